import { CronLockConfigError } from '../cron-lock.errors.js';
import { DURATION_TOO_LONG } from '../cron-lock.messages.js';
import { describeValue } from '../utils/describe-value.js';
import { rejectEmptyOptions } from '../utils/empty-options.js';
import { checkOptionKeys } from '../utils/option-keys.js';
import { MAX_DURATION_MS, parseDuration, type Duration } from '../utils/duration.js';
import { RECENT_EVENTS_KEPT } from './recent-events.js';

/**
 * Options of {@link CronLockHealthIndicator.isHealthy}.
 *
 * @publicApi
 */
export interface CronLockHealthCheckOptions {
  /** Report `down` when the store's round trip is longer than this, in ms. Default: no limit. */
  maxRoundTripMs?: number;
  /** Report `down` when the store does not answer the ping within this. Default `2s`. */
  timeout?: Duration;
  /**
   * How far back lost locks and store errors count. Default `5m`. Once the last of them is
   * older than this, the check is `up` again (if the store answers).
   */
  window?: Duration;
  /**
   * Report `down` when this many store errors (or more) happened within `window`. A whole number
   * from 1 to 1000 (the indicator keeps the last 1000). Default 3.
   */
  storeErrorThreshold?: number;
}

/** The validated options, in ms. */
export interface ResolvedCronLockHealthCheckOptions {
  maxRoundTripMs: number | undefined;
  timeoutMs: number;
  windowMs: number;
  storeErrorThreshold: number;
}

export const DEFAULT_HEALTH_TIMEOUT_MS = 2_000;
export const DEFAULT_HEALTH_WINDOW_MS = 5 * 60_000;
export const DEFAULT_STORE_ERROR_THRESHOLD = 3;

const where = 'CronLockHealthIndicator.isHealthy';

/** What leaving each option out gives, for the error on one present but empty. */
const OPTION_DEFAULTS: Readonly<Record<string, string>> = {
  maxRoundTripMs: 'no round-trip limit',
  timeout: "the default '2s'",
  window: "the default '5m'",
  storeErrorThreshold: `the default ${DEFAULT_STORE_ERROR_THRESHOLD}`,
};

/**
 * Validates the options (an object of known keys, none present but empty); throws
 * {@link CronLockConfigError} naming the option and the fix.
 */
export function resolveHealthCheckOptions(
  options: CronLockHealthCheckOptions = {},
): ResolvedCronLockHealthCheckOptions {
  // `maxRoundTripMs: config.get('X')` unset (or `maxRoundTrip` misspelt) must not quietly mean
  // "no limit": the check would stay up on a store far slower than the operator allowed.
  checkOptionKeys(where, options, Object.keys(OPTION_DEFAULTS), '{ maxRoundTripMs: 100 }');
  rejectEmptyOptions(where, options, OPTION_DEFAULTS);
  const { maxRoundTripMs, storeErrorThreshold = DEFAULT_STORE_ERROR_THRESHOLD } = options;
  if (maxRoundTripMs !== undefined && !(typeof maxRoundTripMs === 'number' && maxRoundTripMs > 0)) {
    throw new CronLockConfigError(
      `${where}: maxRoundTripMs ${describeValue(maxRoundTripMs)} is not a positive number. ` +
        'Fix: pass milliseconds, e.g. { maxRoundTripMs: 100 }, or leave it out for no limit.',
    );
  }
  // At most what the indicator keeps: a higher threshold could never be reached, and the check
  // would stay up through any outage.
  if (
    !Number.isInteger(storeErrorThreshold) ||
    storeErrorThreshold < 1 ||
    storeErrorThreshold > RECENT_EVENTS_KEPT
  ) {
    throw new CronLockConfigError(
      `${where}: storeErrorThreshold ${describeValue(storeErrorThreshold)} is not a whole number ` +
        `from 1 to ${RECENT_EVENTS_KEPT} (the store errors it keeps). Fix: pass how many store ` +
        `errors within the window mean trouble (default ${DEFAULT_STORE_ERROR_THRESHOLD}).`,
    );
  }
  return {
    maxRoundTripMs,
    timeoutMs: positiveDuration('timeout', options.timeout, DEFAULT_HEALTH_TIMEOUT_MS),
    windowMs: positiveDuration('window', options.window, DEFAULT_HEALTH_WINDOW_MS),
    storeErrorThreshold,
  };
}

function positiveDuration(option: string, value: Duration | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) {
    throw new CronLockConfigError(
      `${where}: ${option} ${describeValue(value)} is not a positive duration. ` +
        "Fix: pass milliseconds (> 0) or a string such as '500ms', '30s', '5m'.",
    );
  }
  if (ms > MAX_DURATION_MS) {
    // The timeout goes to a timer, which Node would fire at once past 2^31-1 ms.
    throw new CronLockConfigError(DURATION_TOO_LONG(where, option, value, ms, MAX_DURATION_MS));
  }
  return ms;
}
