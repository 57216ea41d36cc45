import { CronTime } from 'cron';
import { CronLockConfigError } from '../cron-lock.errors.js';
import {
  EXCLUSIVE_ZONE,
  INVALID_ONE_SHOT,
  INVALID_OPTION,
  INVALID_TIME_ZONE,
} from '../cron-lock.messages.js';
import { ONE_SHOT_PASSED } from './schedule.messages.js';

/**
 * The one occurrence of `@LockedCron(date)` (or of `@CronLock` with `@Cron(date)`) in ms since
 * epoch; `undefined` for an expression or no schedule. A `Date` (or a luxon `DateTime`, which
 * `@Cron` also takes) is a one-shot job, run at that time by whichever instances are up then,
 * once across them.
 */
export function oneShotOf(label: string, cronTime: unknown): number | undefined {
  if (cronTime === undefined || typeof cronTime === 'string') {
    return undefined;
  }
  const at =
    cronTime instanceof Date
      ? cronTime.getTime()
      : typeof (cronTime as { toMillis?: unknown }).toMillis === 'function'
        ? (cronTime as { toMillis(): number }).toMillis()
        : Number.NaN;
  if (!Number.isFinite(at)) {
    throw new CronLockConfigError(INVALID_ONE_SHOT(label, cronTime));
  }
  return at;
}

/** Whether the `cron` package (which @nestjs/schedule runs jobs with) accepts this zone. */
export function isTimeZone(timeZone: unknown): boolean {
  if (typeof timeZone !== 'string' || timeZone.length === 0) {
    return false;
  }
  try {
    new CronTime('* * * * *', timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The largest `utcOffset` `cron` reads, in minutes: `UTC+99:59`. */
const MAX_UTC_OFFSET_MINUTES = 99 * 60 + 59;

/**
 * Checks a job's `timeZone` and `utcOffset` as `cron` will read them, for an expression and a
 * one-shot date alike: `cron` would report a bad zone without naming the job (as a bad
 * expression, through the parser), and read `timeZone: ''` as no zone at all.
 *
 * @throws {CronLockConfigError} naming `label` and the fix.
 */
export function checkZoneOptions(label: string, timeZone: unknown, utcOffset: unknown): void {
  if (timeZone !== undefined && utcOffset !== undefined) {
    throw new CronLockConfigError(EXCLUSIVE_ZONE(label));
  }
  if (timeZone !== undefined && !isTimeZone(timeZone)) {
    throw new CronLockConfigError(INVALID_TIME_ZONE(label, timeZone));
  }
  // `cron` reads the offset as a `UTC±HH:MM` zone: a fraction (hours such as 5.5 where minutes
  // are meant) or more than 99:59 fails there as an "invalid cron expression", naming the wrong fix.
  if (
    utcOffset !== undefined &&
    !(
      typeof utcOffset === 'number' &&
      Number.isInteger(utcOffset) &&
      Math.abs(utcOffset) <= MAX_UTC_OFFSET_MINUTES
    )
  ) {
    throw new CronLockConfigError(
      INVALID_OPTION(
        label,
        'utcOffset',
        `a whole number of minutes from -${MAX_UTC_OFFSET_MINUTES} to ${MAX_UTC_OFFSET_MINUTES} ` +
          '(330 for UTC+05:30)',
        utcOffset,
      ),
    );
  }
}

/**
 * Checks that `@nestjs/schedule` can start a one-shot job: its date must come after bootstrap, or
 * after `initialDelay` (a throw out of that timer would be an uncaught exception in a running
 * app). A `disabled` job is not started, so its date is read at `start()` only, as with `@Cron`.
 *
 * @throws {CronLockConfigError} naming `label`, the date and the fix.
 */
export function checkOneShotDate(
  label: string,
  at: number,
  options: { disabled?: unknown; initialDelay?: unknown },
  now: number = Date.now(),
): void {
  if (options.disabled === true) {
    return;
  }
  const delay = typeof options.initialDelay === 'number' ? options.initialDelay : 0;
  if (at <= now + delay) {
    throw new CronLockConfigError(ONE_SHOT_PASSED(label, at, delay));
  }
}
