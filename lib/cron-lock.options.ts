import type { LoggerService } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  DEFAULT_KEY_PREFIX,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_TTL_MS,
  KEY_PREFIX_PATTERN,
} from './cron-lock.constants.js';
import { resolveAlertOptions, type ResolvedAlertOptions } from './cron-lock.alerts.js';
import { CronLockConfigError } from './cron-lock.errors.js';
import { defaultLogger, resolveLogLevels, type CronLockLogLevels } from './cron-lock.logger.js';
import { INVALID_MODULE_OPTION, REDIS_AND_STORE } from './cron-lock.messages.js';
import type {
  CronLockModuleOptions,
  StoreErrorPolicy,
} from './interfaces/cron-lock-module-options.interface.js';
import type { LockStore } from './interfaces/lock-store.interface.js';
import { MemoryLockStore } from './stores/memory-lock.store.js';
import { isRedisClient, type RedisConnectionOptions } from './stores/redis/redis-connection.js';
import { RedisLockStore } from './stores/redis/redis-lock.store.js';
import { tlsSettingsProblem } from './stores/redis/tls.js';
import { parseDuration } from './utils/duration.js';
import { redactLooseUrl } from './utils/redact.js';

/** The module options after validation, with defaults filled in and the store built. */
export interface ResolvedCronLockOptions {
  store: LockStore;
  /** Whether the module built the store (and so closes it on shutdown). */
  ownsStore: boolean;
  /** `'memory'` when the module fell back to the in-memory store for lack of `redis`/`store`. */
  storeKind: 'redis' | 'memory' | 'custom';
  keyPrefix: string;
  defaultTtl: number;
  onStoreError: StoreErrorPolicy;
  shutdownTimeout: number;
  logger: LoggerService | null;
  /** The level of each kind of line (see CronLockLogLevels). */
  logLevels: Required<CronLockLogLevels>;
  instanceId: string;
  /** Alert thresholds, or `null` when `alerts: false`. */
  alerts: ResolvedAlertOptions | null;
  /** Whether each run is entered as an AsyncLocalStorage scope (for `assertLocked()`). */
  asyncContext: boolean;
}

const KNOWN_OPTIONS = new Set([
  'redis',
  'store',
  'keyPrefix',
  'defaultTtl',
  'onStoreError',
  'shutdownTimeout',
  'logger',
  'logLevels',
  'instanceId',
  'alerts',
  'asyncContext',
]);

/**
 * Checks every module option and builds the store. Throws {@link CronLockConfigError} naming
 * the option and the fix, so a typo fails `app.init()` instead of a 3 a.m. run.
 */
export function resolveModuleOptions(
  raw: CronLockModuleOptions | undefined,
): ResolvedCronLockOptions {
  const options: CronLockModuleOptions = raw ?? {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new CronLockConfigError(INVALID_MODULE_OPTION('options', 'an object', options));
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new CronLockConfigError(
        INVALID_MODULE_OPTION(key, `one of ${[...KNOWN_OPTIONS].join(', ')} (unknown option)`, key),
      );
    }
  }

  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (typeof keyPrefix !== 'string' || !KEY_PREFIX_PATTERN.test(keyPrefix)) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION('keyPrefix', '1 to 64 characters among A-Z a-z 0-9 . _ : -', keyPrefix),
    );
  }

  const defaultTtl = parseDuration(options.defaultTtl ?? DEFAULT_TTL_MS);
  if (defaultTtl === undefined || defaultTtl <= 0) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION(
        'defaultTtl',
        "a positive duration such as 30000 or '30s'",
        options.defaultTtl,
      ),
    );
  }

  const shutdownTimeout = parseDuration(options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
  if (shutdownTimeout === undefined) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION(
        'shutdownTimeout',
        "a duration such as 10000 or '10s'",
        options.shutdownTimeout,
      ),
    );
  }

  const onStoreError = options.onStoreError ?? 'skip';
  if (onStoreError !== 'skip' && onStoreError !== 'run') {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION('onStoreError', "'skip' or 'run'", onStoreError),
    );
  }

  const logger = resolveLogger(options.logger);
  const logLevels = resolveLogLevels(options.logLevels);
  if (Array.isArray(logLevels)) {
    throw new CronLockConfigError(INVALID_MODULE_OPTION(...logLevels));
  }

  const instanceId = options.instanceId ?? defaultInstanceId();
  if (typeof instanceId !== 'string' || instanceId.length === 0 || instanceId.length > 200) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION(
        'instanceId',
        'a non-empty string of at most 200 characters',
        instanceId,
      ),
    );
  }

  if (options.redis !== undefined && options.store !== undefined) {
    throw new CronLockConfigError(REDIS_AND_STORE());
  }
  const alerts = resolveAlertOptions(options.alerts);

  const asyncContext = options.asyncContext ?? false;
  if (typeof asyncContext !== 'boolean') {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION('asyncContext', 'true or false', asyncContext),
    );
  }

  const base = {
    keyPrefix,
    defaultTtl,
    onStoreError,
    shutdownTimeout,
    logger,
    logLevels,
    instanceId,
    alerts,
    asyncContext,
  };

  if (options.store !== undefined) {
    if (!isLockStore(options.store)) {
      throw new CronLockConfigError(
        INVALID_MODULE_OPTION(
          'store',
          'a LockStore (acquire, renew, release, inspect, ping, close)',
          options.store,
        ),
      );
    }
    return { ...base, store: options.store, ownsStore: false, storeKind: 'custom' };
  }
  if (options.redis === undefined) {
    return { ...base, store: new MemoryLockStore(), ownsStore: true, storeKind: 'memory' };
  }
  return {
    ...base,
    store: createRedisStore(options.redis, keyPrefix, logger),
    ownsStore: true,
    storeKind: 'redis',
  };
}

function createRedisStore(
  redis: NonNullable<CronLockModuleOptions['redis']>,
  keyPrefix: string,
  logger: LoggerService | null,
): RedisLockStore {
  if (typeof redis === 'string') {
    if (!/^rediss?:\/\//i.test(redis)) {
      throw new CronLockConfigError(
        INVALID_MODULE_OPTION(
          'redis',
          'a redis:// or rediss:// URL, ioredis options or a client',
          redactLooseUrl(redis),
        ),
      );
    }
  } else if (typeof redis !== 'object' || redis === null || Array.isArray(redis)) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION(
        'redis',
        'a redis:// or rediss:// URL, ioredis options or a client',
        redis,
      ),
    );
  } else if (!isRedisClient(redis)) {
    checkConnectionOptions(redis);
  }
  // An existing client is reused as is: RedisLockStore never closes a client it did not create.
  return new RedisLockStore(redis, { keyPrefix, logger: logger ?? false });
}

/** `{ url, tls, ...ioredis options }`: a URL that ioredis accepts, and TLS settings that fit it. */
function checkConnectionOptions(options: RedisConnectionOptions): void {
  const { url } = options;
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\/./i.test(url))) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION(
        'redis.url',
        'a redis:// or rediss:// URL',
        typeof url === 'string' ? redactLooseUrl(url) : url,
      ),
    );
  }
  const problem = tlsSettingsProblem(options);
  if (problem !== undefined) {
    throw new CronLockConfigError(problem);
  }
}

function resolveLogger(logger: CronLockModuleOptions['logger']): LoggerService | null {
  if (logger === false) {
    return null;
  }
  if (logger === undefined) {
    return defaultLogger();
  }
  if (
    typeof logger !== 'object' ||
    typeof logger.log !== 'function' ||
    typeof logger.error !== 'function'
  ) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION('logger', 'a Nest LoggerService (log, error, warn) or false', logger),
    );
  }
  return logger;
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

function defaultInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
}
