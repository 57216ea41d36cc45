import type { LoggerService } from '@nestjs/common';
import {
  DEFAULT_HISTORY_SIZE,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_TTL_MS,
  MAX_HISTORY_SIZE,
} from '../cron-lock.constants.js';
import { resolveAlertOptions, type ResolvedAlertOptions } from '../observer/alert-monitor.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { defaultLogger, resolveLogLevels, type CronLockLogLevels } from '../observer/logger.js';
import {
  DURATION_TOO_LONG,
  INVALID_ASYNC_OPTIONS,
  INVALID_MODULE_OPTION,
  INVALID_OPTION,
  OPTION_EMPTY,
  OPTIONS_FACTORY_WITHOUT_METHOD,
  OPTIONS_NOT_OBJECT,
  UNKNOWN_OPTION,
} from '../cron-lock.messages.js';
import type {
  CronLockModuleAsyncOptions,
  CronLockModuleOptions,
  CronLockOptionsFactory,
  StoreErrorPolicy,
} from './module-options.interface.js';
import { MAX_DURATION_MS, parseDuration } from '../utils/duration.js';
import { didYouMean } from '../utils/did-you-mean.js';
import { checkKeyPrefix } from '../utils/key-prefix.js';
import { checkStoreSettings } from '../stores/store-factory.js';
import { rejectEmptyOptions } from '../utils/empty-options.js';
import { resolveInstanceId } from './instance-id.js';

/** The module options after validation, with defaults filled in (the store is built by stores/store-factory.ts). */
export interface ResolvedCronLockOptions {
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
  /** History entries kept per job in the store; 0 keeps none. */
  historySize: number;
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
  'historySize',
]);

/**
 * What leaving each option out gives, for the error on one present but empty (`redis`,
 * `keyPrefix` and `historySize` have checks of their own that refuse it).
 */
const OPTION_DEFAULTS: Readonly<Record<string, string>> = {
  defaultTtl: 'the default 30s',
  shutdownTimeout: 'the default 10s',
  onStoreError: "the default 'skip'",
  logger: "Nest's Logger",
  logLevels: 'the default levels',
  instanceId: 'the default <hostname>:<pid>:<random>',
  alerts: 'the default alert thresholds',
  asyncContext: 'the default false',
};

/**
 * Checks every module option; builds nothing (the store provider builds the store). Throws {@link CronLockConfigError} naming
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

  // Present but undefined or null (`config.get('X')` of an unset variable in a forRootAsync
  // factory) is an error, never the default: the operator meant a value, and a default quietly
  // in its place (a 30s ttl, fail-open, the default logger) is found at 3 a.m., not at boot.
  rejectEmptyOptions('CronLockModule', options, OPTION_DEFAULTS);

  // Present but undefined (`keyPrefix: process.env.LOCK_PREFIX` unset) is an error, not the
  // default: apps meant to be apart would silently share the default namespace.
  if ('keyPrefix' in options) {
    checkKeyPrefix('CronLockModule', options.keyPrefix);
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

  const instanceId = resolveInstanceId(options.instanceId);

  const alerts = resolveAlertOptions(options.alerts);

  const asyncContext = options.asyncContext ?? false;
  if (typeof asyncContext !== 'boolean') {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION('asyncContext', 'true or false', asyncContext),
    );
  }

  // Present but undefined is an error here too: a typo'd environment variable must not turn the
  // history off or on behind the operator's back.
  const historySize = 'historySize' in options ? options.historySize : DEFAULT_HISTORY_SIZE;
  if (
    typeof historySize !== 'number' ||
    !Number.isSafeInteger(historySize) ||
    historySize < 0 ||
    historySize > MAX_HISTORY_SIZE
  ) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION(
        'historySize',
        `a whole number from 0 (no history) to ${MAX_HISTORY_SIZE}`,
        historySize,
      ),
    );
  }

  const base = {
    defaultTtl,
    onStoreError,
    shutdownTimeout,
    logger,
    logLevels,
    instanceId,
    alerts,
    asyncContext,
    historySize,
  };

  checkStoreSettings(options);
  return base;
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
  // Left unchecked, Nest spreads a string's characters as imports, and a non-iterable
  // extraProviders fails with a bare TypeError. Undefined means none, as leaving the key out does.
  for (const key of ['imports', 'inject', 'extraProviders'] as const) {
    if (options[key] !== undefined && !Array.isArray(options[key])) {
      throw new CronLockConfigError(
        INVALID_OPTION('CronLockModule.forRootAsync', key, 'an array', options[key]),
      );
    }
  }
  checkIsGlobal('CronLockModule.forRootAsync', options);
}

/**
 * `isGlobal` as given to `forRoot` or `forRootAsync`: a boolean, or left out for `true`. Present
 * but empty it is refused: from an unset variable it would pick the default silently, and a
 * string such as `'false'` would make the module global.
 */
export function checkIsGlobal(where: string, options: { isGlobal?: unknown }): boolean {
  if (!('isGlobal' in options)) {
    return true;
  }
  const { isGlobal } = options;
  if (isGlobal === undefined || isGlobal === null) {
    throw new CronLockConfigError(
      OPTION_EMPTY(where, 'isGlobal', isGlobal, 'true (a global module)'),
    );
  }
  if (typeof isGlobal !== 'boolean') {
    throw new CronLockConfigError(INVALID_OPTION(where, 'isGlobal', 'true or false', isGlobal));
  }
  return isGlobal;
}

/**
 * The options a `useClass` / `useExisting` factory builds. Checked here, once Nest made the
 * instance, rather than on the class: the method may be an instance property.
 */
export function optionsFromFactory(
  factory: CronLockOptionsFactory,
  builder: 'useClass' | 'useExisting',
  className: string,
): CronLockModuleOptions | Promise<CronLockModuleOptions> {
  // Untyped or cast: a misspelt method would fail app.init() with a bare TypeError.
  if (typeof factory?.createCronLockOptions !== 'function') {
    throw new CronLockConfigError(OPTIONS_FACTORY_WITHOUT_METHOD(builder, className));
  }
  return factory.createCronLockOptions();
}

function resolveLogger(logger: CronLockModuleOptions['logger']): LoggerService | null {
  if (logger === false) {
    return null;
  }
  if (logger === undefined) {
    return defaultLogger();
  }
  // warn too, as Nest's LoggerService requires: without it, every warn line (a run without a
  // lock, missed occurrences, a store unreachable at startup) would be dropped without a word.
  if (
    typeof logger !== 'object' ||
    typeof logger.log !== 'function' ||
    typeof logger.error !== 'function' ||
    typeof logger.warn !== 'function'
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
