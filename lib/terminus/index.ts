export { CronLockHealthModule } from './cron-lock-health.module.js';
export { CronLockHealthIndicator } from './cron-lock.health.js';
export type { CronLockHealthCheckOptions } from './cron-lock-health.options.js';
