import type { LoggerService } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  DEFAULT_KEY_PREFIX,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_TTL_MS,
} from '../cron-lock.constants.js';
import { resolveAlertOptions, type ResolvedAlertOptions } from '../observer/alert-monitor.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { defaultLogger, resolveLogLevels, type CronLockLogLevels } from '../observer/logger.js';
import {
  DURATION_TOO_LONG,
  INVALID_ASYNC_OPTIONS,
  INVALID_MODULE_OPTION,
  KEY_PREFIX_WITH_STORE,
  OPTIONS_NOT_OBJECT,
  REDIS_AND_STORE,
  REDIS_EMPTY,
  STORE_MISSING,
  UNKNOWN_OPTION,
} from '../cron-lock.messages.js';
import type {
  CronLockModuleAsyncOptions,
  CronLockModuleOptions,
  StoreErrorPolicy,
} from './module-options.interface.js';
import type { LockStore } from '../stores/lock-store.interface.js';
import { MemoryLockStore } from '../stores/memory/memory-lock.store.js';
import { isRedisClient, type RedisConnectionOptions } from '../stores/redis/redis-connection.js';
import { RedisLockStore } from '../stores/redis/redis-lock.store.js';
import { tlsSettingsProblem } from '../stores/redis/tls.js';
import { MAX_DURATION_MS, parseDuration } from '../utils/duration.js';
import { didYouMean } from '../utils/did-you-mean.js';
import { checkKeyPrefix } from '../utils/key-prefix.js';
import { redactLooseUrl } from '../utils/redact.js';

/** The module options after validation, with defaults filled in and the store built. */
export interface ResolvedCronLockOptions {
  store: LockStore;
  /** Whether the module built the store (and so closes it on shutdown). */
  ownsStore: boolean;
  /** `'memory'` when the user passed a {@link MemoryLockStore} (never chosen by default). */
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
  // forRoot always passes an object: anything else came from a forRootAsync factory.
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CronLockConfigError(OPTIONS_NOT_OBJECT(raw));
  }
  const options: CronLockModuleOptions = raw;
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      const known = [...KNOWN_OPTIONS];
      throw new CronLockConfigError(
        UNKNOWN_OPTION('CronLockModule', key, didYouMean(key, known), known),
      );
    }
  }

  // Present but undefined (`keyPrefix: process.env.LOCK_PREFIX` unset) is an error, not the
  // default: apps meant to be apart would silently share the default namespace.
  const keyPrefix =
    'keyPrefix' in options
      ? checkKeyPrefix('CronLockModule', options.keyPrefix)
      : DEFAULT_KEY_PREFIX;

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
  checkTimerRange('defaultTtl', options.defaultTtl, defaultTtl);
  checkTimerRange('shutdownTimeout', options.shutdownTimeout, shutdownTimeout);

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
    const storeKind = options.store instanceof MemoryLockStore ? 'memory' : 'custom';
    return { ...base, store: options.store, ownsStore: false, storeKind };
  }
  return {
    ...base,
    store: createRedisStore(options.redis!, keyPrefix, logger),
    ownsStore: true,
    storeKind: 'redis',
  };
}

const ASYNC_OPTION_KEYS = [
  'imports',
  'inject',
  'useFactory',
  'useClass',
  'useExisting',
  'isGlobal',
  'extraProviders',
];

/**
 * Checks the argument of `CronLockModule.forRootAsync` when the app module is declared: exactly
 * one way to build the options, of the right kind, and no unknown key (a misspelt `useFactory`
 * would otherwise leave the module with no options at all).
 */
export function checkAsyncOptions(options: CronLockModuleAsyncOptions | undefined): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CronLockConfigError(
      INVALID_ASYNC_OPTIONS(`the argument must be an object, got ${typeof options}`),
    );
  }
  for (const key of Object.keys(options)) {
    if (!ASYNC_OPTION_KEYS.includes(key)) {
      throw new CronLockConfigError(
        UNKNOWN_OPTION(
          'CronLockModule.forRootAsync',
          key,
          didYouMean(key, ASYNC_OPTION_KEYS),
          ASYNC_OPTION_KEYS,
        ),
      );
    }
  }
  const builders = (['useFactory', 'useClass', 'useExisting'] as const).filter(
    (key) => options[key] !== undefined,
  );
  if (builders.length !== 1) {
    throw new CronLockConfigError(
      INVALID_ASYNC_OPTIONS(
        builders.length === 0
          ? 'none of useFactory, useClass or useExisting is set'
          : `${builders.join(' and ')} are exclusive`,
      ),
    );
  }
  const builder = builders[0];
  if (typeof options[builder] !== 'function') {
    throw new CronLockConfigError(
      INVALID_ASYNC_OPTIONS(
        `${builder} must be ${builder === 'useFactory' ? 'a function' : 'a class'}, got ${typeof options[builder]}`,
      ),
    );
  }
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

/** A duration option past 2^31-1 ms would make its timer fire at once, again and again. */
function checkTimerRange(option: string, value: unknown, ms: number): void {
  if (ms > MAX_DURATION_MS) {
    throw new CronLockConfigError(
      DURATION_TOO_LONG('CronLockModule', `option ${option}`, value, ms, MAX_DURATION_MS),
    );
  }
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

function defaultInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
}
