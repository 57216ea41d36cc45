import type { Cluster, Redis } from 'ioredis';
import { DEFAULT_KEY_PREFIX } from '../cron-lock.constants.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import {
  INVALID_MODULE_OPTION,
  KEY_PREFIX_WITH_STORE,
  REDIS_AND_STORE,
  REDIS_EMPTY,
  STORE_MISSING,
} from '../cron-lock.messages.js';
import type { CronLockModuleOptions } from '../options/module-options.interface.js';
import type { ResolvedCronLockOptions } from '../options/module-options.js';
import type { LockStore } from './lock-store.interface.js';
import { MemoryLockStore } from './memory/memory-lock.store.js';
import type { RedisConnectionOptions } from './redis/redis-connection.js';
import { RedisLockStore } from './redis/redis-lock.store.js';
import { checkRedisSetting } from './redis/redis-options.js';

// The only door from the core to the backends: the module's options and providers reach a
// store through this file and the LockStore interface, never through a backend's folder.

/** What the `redis` module option takes: a URL, ioredis options with an optional `url`, or a client. */
export type RedisSetting = string | RedisConnectionOptions | Redis | Cluster;

/** `'memory'` when the user passed a {@link MemoryLockStore} (never chosen by default). */
export type StoreKind = 'redis' | 'memory' | 'custom';

/** The store a module uses, and whether the module built it (and so closes it on shutdown). */
export interface ResolvedStore {
  store: LockStore;
  ownsStore: boolean;
  storeKind: StoreKind;
  keyPrefix: string;
}

/**
 * Checks `redis` / `store`, their exclusivity and empty settings, in the order validation
 * always had; builds nothing. Throws {@link CronLockConfigError}.
 */
export function checkStoreSettings(options: CronLockModuleOptions): StoreKind {
  const hasRedis = 'redis' in options;
  const hasStore = 'store' in options;
  if (hasRedis && isEmptySetting(options.redis)) {
    // `redis: process.env.REDIS_URL` with the variable unset: a per-process lock here would let
    // every instance run every occurrence, the one failure this module exists to prevent.
    throw new CronLockConfigError(REDIS_EMPTY(options.redis));
  }
  if (hasRedis && hasStore) {
    throw new CronLockConfigError(REDIS_AND_STORE());
  }
  if (!hasRedis && !hasStore) {
    throw new CronLockConfigError(STORE_MISSING());
  }
  if (hasStore && 'keyPrefix' in options) {
    throw new CronLockConfigError(KEY_PREFIX_WITH_STORE());
  }
  if (hasStore) {
    if (!isLockStore(options.store)) {
      throw new CronLockConfigError(
        INVALID_MODULE_OPTION(
          'store',
          'a LockStore (acquire, renew, release, inspect, ping, close)',
          options.store,
        ),
      );
    }
    return options.store instanceof MemoryLockStore ? 'memory' : 'custom';
  }
  checkRedisSetting(options.redis);
  return 'redis';
}

/**
 * Builds (`redis`) or takes (`store`) the store. The module's store provider calls it after
 * the options were validated, so a bad option fails before anything connects.
 */
export function resolveStore(
  raw: CronLockModuleOptions,
  options: ResolvedCronLockOptions,
): ResolvedStore {
  const keyPrefix = raw.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (raw.store !== undefined) {
    return {
      store: raw.store,
      ownsStore: false,
      keyPrefix,
      storeKind: raw.store instanceof MemoryLockStore ? 'memory' : 'custom',
    };
  }
  return {
    // Checked again by the store, as for one built by hand. An existing client is reused as is:
    // RedisLockStore never closes a client it did not create.
    store: new RedisLockStore(raw.redis!, { keyPrefix, logger: options.logger ?? false }),
    ownsStore: true,
    storeKind: 'redis',
    keyPrefix,
  };
}

/** `undefined`, `null` or a blank string: a setting that is present but carries nothing. */
function isEmptySetting(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && !value.trim());
}

function isLockStore(value: unknown): value is LockStore {
  const store = value as Partial<Record<keyof LockStore, unknown>> | null;
  return (
    typeof store === 'object' &&
    store !== null &&
    (['acquire', 'renew', 'release', 'inspect', 'ping', 'close'] as const).every(
      (method) => typeof store[method] === 'function',
    )
  );
}
