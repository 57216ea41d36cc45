export { CronLockEventEmitterModule } from './cron-lock-event-emitter.module.js';
export { CronLockEventForwarder } from './cron-lock-event-forwarder.js';
export type { CronLockEventEmitterOptions } from './cron-lock-event-emitter.options.js';
