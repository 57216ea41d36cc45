import type { LoggerService, ModuleMetadata, Type } from '@nestjs/common';
import type { RedisSetting } from '../stores/store-factory.js';
import type { Duration } from '../utils/duration.js';
import type { LockStore } from '../stores/lock-store.interface.js';
import type { CronLockLogLevels } from '../observer/logger.js';

/**
 * What to do when the lock store cannot answer (Redis down, timeout, server error):
 * `'skip'` (default) fails closed — the run is skipped and logged; `'run'` fails open — the
 * run happens without a lock, so it may run on several instances while the store is down.
 *
 * @publicApi
 */
export type StoreErrorPolicy = 'skip' | 'run';

/**
 * Options of {@link CronLockModule}. Validated at bootstrap.
 *
 * @publicApi
 */
export interface CronLockModuleOptions {
  /**
   * The Redis to lock in: a URL (`redis://`, `rediss://`), ioredis options (optionally with a
   * `url`, e.g. `{ url: 'rediss://…', tls: { ca } }`), or an existing `Redis`/`Cluster` client
   * (reused and never closed by the module). Exclusive with `store`; one of the two is required.
   * Present but empty (`undefined`, `null`, `''`, as `process.env.REDIS_URL` gives when unset)
   * fails at bootstrap: the module never falls back to a per-process lock by itself.
   */
  redis?: RedisSetting;
  /**
   * A custom {@link LockStore}, e.g. `new MemoryLockStore()` for tests and local development
   * (locks hold within one process only). Exclusive with `redis`; one of the two is required.
   */
  store?: LockStore;
  /**
   * Namespace of every key (`<keyPrefix>:{<job>}:…`), so several apps or environments can share
   * one Redis without contending. Default `cron-lock`. Allowed: `[A-Za-z0-9._:-]{1,64}`.
   * Only with `redis`: a `store` names its own keys, so with `store` it fails at bootstrap (give
   * it to the store instead: `new RedisLockStore(redis, { keyPrefix })`).
   */
  keyPrefix?: string;
  /** Lock ttl of jobs that set none. Default `30s`. */
  defaultTtl?: Duration;
  /** What to do when the store fails. Default `'skip'` (fail closed). */
  onStoreError?: StoreErrorPolicy;
  /**
   * On `app.close()`, how long to wait for running jobs before aborting their `signal`.
   * Default `10s`.
   */
  shutdownTimeout?: Duration;
  /**
   * Where log lines go: a Nest `LoggerService`, or `false` for none. Default Nest's `Logger`
   * (context `CronLock`). A line the logger throws on is dropped; the run goes on as if written.
   * Async methods are fine: a promise they return is not awaited, and its rejection is dropped.
   */
  logger?: LoggerService | false;
  /**
   * The level of each kind of line, e.g. `{ completed: 'log', skippedTickDone: 'debug' }`;
   * `false` silences a kind. Defaults: errors (failed run, lost lock, store error, alert) at
   * `error`, a completed run and skips at `debug`, a skip for an occurrence that already ran
   * (another instance ran it) not logged. See {@link CronLockLogLevels}.
   */
  logLevels?: CronLockLogLevels;
  /**
   * This instance's name in logs and `inspect()`. Default `<hostname>:<pid>:<random>`. One line
   * of at most 200 characters; a URL with a user or a password is refused, as it would be printed.
   */
  instanceId?: string;
  /**
   * When to raise an `alert` event and an error log line: a job without a success for
   * `missedPeriods` occurrences, `storeFailures` failed acquisitions in a row, a lost lock.
   * Default `{ missedPeriods: 3, storeFailures: 3 }`; `false` turns alerting off.
   */
  alerts?: CronLockAlertOptions | false;
  /**
   * Enter every run as an `AsyncLocalStorage` scope, so that `assertLocked()` and
   * `currentLockContext()` find the run the calling code belongs to. Default `false`: on Node 20
   * and 22, once any `AsyncLocalStorage` scope is entered, every promise of the process costs
   * more (a process that already uses one, for tracing or request context, pays nothing extra).
   */
  asyncContext?: boolean;
  /**
   * How many entries of each job's history (runs, and occurrences missed, skipped while paused
   * or merged) the store keeps, newest first, for `CronLockService.history()`. A whole number from
   * 0 (no history: a job's next run drops the entries kept before) to 1000. Default 100. Entries
   * expire with the job's state (15 to 30 days after its last acquisition, longer when the job's
   * period or catch-up window needs it).
   */
  historySize?: number;
}

/**
 * Thresholds of the `alerts` module option. Each condition alerts once per episode per job on
 * each instance that observes it.
 *
 * @publicApi
 */
export interface CronLockAlertOptions {
  /**
   * Alert when this many occurrences in a row of a scheduled job went by without a successful
   * run anywhere in the fleet (counted from the last success recorded in the store, or from the
   * first occurrence this instance saw). A whole number ≥ 1. Default 3.
   */
  missedPeriods?: number;
  /**
   * Alert when this many acquisitions in a row of one job failed with a store error on this
   * instance. A whole number ≥ 1. Default 3.
   */
  storeFailures?: number;
}

/**
 * A class that builds the options, for `forRootAsync({ useClass })`.
 *
 * @publicApi
 */
export interface CronLockOptionsFactory {
  createCronLockOptions(): CronLockModuleOptions | Promise<CronLockModuleOptions>;
}

/**
 * Options of `CronLockModule.forRootAsync`.
 *
 * @publicApi
 */
export interface CronLockModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Providers to inject into `useFactory`. */
  inject?: Array<string | symbol | Type | { token: string | symbol | Type; optional: boolean }>;
  /** Builds the options, possibly asynchronously. */
  useFactory?: (...args: never[]) => CronLockModuleOptions | Promise<CronLockModuleOptions>;
  /** A class the module instantiates to build the options. */
  useClass?: Type<CronLockOptionsFactory>;
  /** An existing provider (from `imports`) that builds the options. */
  useExisting?: Type<CronLockOptionsFactory>;
  /** Register the module globally. Default `true`. */
  isGlobal?: boolean;
  /** Extra providers available to the factory. */
  extraProviders?: ModuleMetadata['providers'];
}
