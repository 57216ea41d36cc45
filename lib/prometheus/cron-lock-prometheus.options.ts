import { register, type Registry } from 'prom-client';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { describeValue } from '../utils/describe-value.js';
import { rejectEmptyOptions } from '../utils/empty-options.js';
import { checkOptionKeys } from '../utils/option-keys.js';

/**
 * Options of {@link CronLockPrometheusModule.forRoot}.
 *
 * @publicApi
 */
export interface CronLockPrometheusOptions {
  /** The registry the metrics are registered in. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Prefix of every metric name. Default `cron_lock_`. */
  prefix?: string;
  /**
   * Buckets of the run duration histogram, in seconds. Default
   * `[0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600]` (cron jobs run from ms to hours).
   */
  runDurationBuckets?: number[];
  /**
   * Buckets of the acquire latency histogram, in seconds. Default
   * `[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]` (one round trip).
   */
  acquireDurationBuckets?: number[];
}

/** The validated options. */
export interface ResolvedCronLockPrometheusOptions {
  registry: Registry;
  prefix: string;
  runDurationBuckets: number[];
  acquireDurationBuckets: number[];
}

/** Injection token of the validated options. */
export const CRON_LOCK_PROMETHEUS_OPTIONS = Symbol.for(
  'nestjs-cron-lock.CRON_LOCK_PROMETHEUS_OPTIONS',
);

export const DEFAULT_METRIC_PREFIX = 'cron_lock_';
const DEFAULT_RUN_BUCKETS = [0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600];
const DEFAULT_ACQUIRE_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/** Prometheus metric names: `[a-zA-Z_:][a-zA-Z0-9_:]*`; the prefix may be empty. */
const PREFIX_PATTERN = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

const where = 'CronLockPrometheusModule.forRoot';

/** What leaving each option out gives, for the error on one present but empty. */
const OPTION_DEFAULTS: Readonly<Record<string, string>> = {
  registry: "prom-client's global register",
  prefix: `the default '${DEFAULT_METRIC_PREFIX}'`,
  runDurationBuckets: 'the default buckets (50 ms to 1 h)',
  acquireDurationBuckets: 'the default buckets (0.5 ms to 2.5 s)',
};

/**
 * Validates the options (an object of known keys, none present but empty); throws
 * {@link CronLockConfigError} naming the option and the fix.
 */
export function resolvePrometheusOptions(
  options: CronLockPrometheusOptions = {},
): ResolvedCronLockPrometheusOptions {
  // `registry: config.registry` unset (or `registery` misspelt) must not put the metrics in the
  // global register, nor `prefix: process.env.METRICS_PREFIX` unset give two apps one set of names.
  checkOptionKeys(where, options, Object.keys(OPTION_DEFAULTS), "{ prefix: 'jobs_' }");
  rejectEmptyOptions(where, options, OPTION_DEFAULTS);
  const prefix = options.prefix ?? DEFAULT_METRIC_PREFIX;
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
    throw new CronLockConfigError(
      `${where}: prefix ${describeValue(prefix)} is not a valid metric name prefix. ` +
        `Fix: use letters, digits, _ and : only, not starting with a digit (default '${DEFAULT_METRIC_PREFIX}').`,
    );
  }
  const registry = options.registry ?? register;
  if (typeof registry?.registerMetric !== 'function') {
    throw new CronLockConfigError(
      `${where}: registry is not a prom-client Registry. ` +
        `Fix: pass new Registry() from prom-client, or leave it out to use the global register.`,
    );
  }
  return {
    registry,
    prefix,
    runDurationBuckets: checkBuckets('runDurationBuckets', options.runDurationBuckets) ?? [
      ...DEFAULT_RUN_BUCKETS,
    ],
    acquireDurationBuckets: checkBuckets(
      'acquireDurationBuckets',
      options.acquireDurationBuckets,
    ) ?? [...DEFAULT_ACQUIRE_BUCKETS],
  };
}

function checkBuckets(option: string, buckets: number[] | undefined): number[] | undefined {
  if (buckets === undefined) {
    return undefined;
  }
  const valid =
    Array.isArray(buckets) &&
    buckets.length > 0 &&
    buckets.every(
      (bound, i) =>
        typeof bound === 'number' &&
        Number.isFinite(bound) &&
        bound > 0 &&
        (i === 0 || bound > buckets[i - 1]!),
    );
  if (!valid) {
    throw new CronLockConfigError(
      `${where}: ${option} ${JSON.stringify(buckets)} is not a list of increasing positive numbers. ` +
        'Fix: pass upper bounds in seconds, e.g. [0.1, 1, 10, 60].',
    );
  }
  return [...buckets];
}
