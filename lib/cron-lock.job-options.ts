import { CronLockConfigError } from './cron-lock.errors.js';
import { DURATION_TOO_LONG, INVALID_TTL, MIN_HOLD_OVER_TTL } from './cron-lock.messages.js';
import { MAX_DURATION_MS, parseDuration } from './utils/duration.js';

/** The lock durations of one job or `run()` call, in ms, checked. */
export interface ResolvedLockTimes {
  ttl: number;
  minHold: number;
}

/**
 * Reads `ttl` (default `defaultTtl`) and `minHold` (default 0) of a job or `run()` call. Throws
 * {@link CronLockConfigError} naming `where` (`Class.method` or `CronLockService.run("name")`)
 * for a value that is not a duration, a ttl that is not positive, a duration past what a timer
 * holds, or a minHold longer than the ttl.
 */
export function resolveLockTimes(
  where: string,
  options: { ttl?: unknown; minHold?: unknown },
  defaultTtl: number,
): ResolvedLockTimes {
  const ttl =
    options.ttl === undefined ? defaultTtl : lockDuration(where, 'ttl', options.ttl, true);
  const minHold =
    options.minHold === undefined ? 0 : lockDuration(where, 'minHold', options.minHold, false);
  if (minHold > ttl) {
    throw new CronLockConfigError(MIN_HOLD_OVER_TTL(where, minHold, ttl));
  }
  return { ttl, minHold };
}

function lockDuration(where: string, field: string, value: unknown, positive: boolean): number {
  const ms = parseDuration(value);
  if (ms === undefined || (positive && ms <= 0)) {
    throw new CronLockConfigError(INVALID_TTL(where, field, value));
  }
  if (ms > MAX_DURATION_MS) {
    // A ttl past 2^31-1 ms would make the renew and deadline timers fire every millisecond.
    throw new CronLockConfigError(DURATION_TOO_LONG(where, field, value, ms, MAX_DURATION_MS));
  }
  return ms;
}
