import 'reflect-metadata';

export * from './cron-lock.module.js';
export { CRON_LOCK_MODULE_OPTIONS, CRON_LOCK_STORE } from './cron-lock.constants.js';
export * from './cron-lock.service.js';
export * from './cron-lock.errors.js';
export { assertLocked, currentLockContext } from './runner/run-scope.js';
export type {
  CronLockAlert,
  CronLockAnyEvent,
  CronLockAnyListener,
  CronLockEventBase,
  CronLockEventName,
  CronLockEvents,
  CronLockListener,
  MissedReason,
  SkipReason,
} from './observer/events.js';
export type { LockedRunResult } from './runner/runner.js';
export type { CronLockLogLevel, CronLockLogLevels } from './observer/logger.js';
export * from './decorators/index.js';
export * from './options/module-options.interface.js';
export * from './options/job-options.interface.js';
export * from './runner/lock-context.interface.js';
export * from './stores/lock-store.interface.js';
export { MemoryLockStore } from './stores/memory/memory-lock.store.js';
export { RedisLockStore, type RedisLockStoreOptions } from './stores/redis/redis-lock.store.js';
export type { ScriptTransport } from './stores/redis/ioredis/send.js';
export {
  LOCK_CLIENT_DEFAULTS,
  LOCK_CLUSTER_DEFAULTS,
  type RedisConnectionOptions,
} from './stores/redis/redis-connection.js';
export { LOCK_USER_COMMANDS, cronLockAclRule } from './stores/redis/acl.js';
export {
  MAX_DURATION_MS,
  parseDuration,
  type Duration,
  type DurationUnit,
} from './utils/duration.js';
