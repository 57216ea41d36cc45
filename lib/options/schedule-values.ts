import { CronTime } from 'cron';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { INVALID_ONE_SHOT } from '../cron-lock.messages.js';

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
