import 'reflect-metadata';

export * from './cron-lock.module.js';
export { CRON_LOCK_MODULE_OPTIONS } from './cron-lock.constants.js';
export * from './cron-lock.service.js';
export * from './cron-lock.errors.js';
export { assertLocked, currentLockContext } from './cron-lock.context.js';
export type {
  CronLockAlert,
  CronLockAnyEvent,
  CronLockAnyListener,
  CronLockEventBase,
  CronLockEventName,
  CronLockEvents,
  CronLockListener,
  SkipReason,
} from './cron-lock.events.js';
export type { LockedRunResult } from './cron-lock.interceptor.js';
export type { CronLockLogLevel, CronLockLogLevels } from './cron-lock.logger.js';
export * from './decorators/index.js';
export * from './interfaces/index.js';
export { MemoryLockStore } from './stores/memory-lock.store.js';
export { RedisLockStore, type RedisLockStoreOptions } from './stores/redis/redis-lock.store.js';
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
