import type { Duration } from '../utils/duration.js';

/**
 * Options of a lock around a job, for {@link CronLock} and {@link CronLockService.run}.
 *
 * @publicApi
 */
export interface CronLockOptions {
  /**
   * How long the lock lives if its holder stops renewing it (crash, freeze). Default: the
   * module's `defaultTtl` (30s). Pick more than a run's worst pause, since renewal happens
   * about every ttl/3.
   */
  ttl?: Duration;
  /**
   * The lock name, shared by every instance running this job. Default `ClassName.methodName`.
   * Allowed: `[A-Za-z0-9._:-]{1,128}`.
   */
  name?: string;
  /** Renew the lock about every ttl/3 while the job runs. Default `true`. */
  renew?: boolean;
  /**
   * Keep the lock at least this long after a run starts, even if the job ends sooner
   * (ShedLock's lockAtLeastFor). Must not exceed `ttl`. Default 0.
   */
  minHold?: Duration;
}

/**
 * Options of {@link LockedCron}: the lock options plus those `@Cron` takes.
 *
 * @publicApi
 */
export interface LockedCronOptions extends CronLockOptions {
  /** IANA time zone the cron expression is read in (e.g. `Europe/Paris`). Exclusive with `utcOffset`. */
  timeZone?: string;
  /** Offset from UTC in minutes the cron expression is read in. Exclusive with `timeZone`. */
  utcOffset?: number;
  /** Register the job but do not start it (as `@Cron`'s `disabled`). */
  disabled?: boolean;
}
