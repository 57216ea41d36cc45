import type { OverlapPolicy } from '../stores/lock-store.interface.js';
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
   * Allowed: `[A-Za-z0-9._:-]{1,128}`, plus spaces, which the lock name turns into `_`
   * (`'daily report'` locks as `daily_report`; `@LockedCron` registers the job in
   * `SchedulerRegistry` under the name as written).
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
  /**
   * Register the job but do not start it (as `@Cron`'s `disabled`); `SchedulerRegistry`'s
   * `getCronJob(name).start()` starts it, and its ticks then take the lock as usual.
   */
  disabled?: boolean;
  /**
   * Milliseconds after bootstrap before this instance's scheduler starts the job (as `@Cron`'s
   * `initialDelay`). Per instance: occurrences that pass during the delay are not run here, but
   * another instance whose delay is over may run them. With `catchUp`, this instance catches up
   * when its delay is over, not at bootstrap.
   */
  initialDelay?: number;
  /**
   * Skip this instance's ticks while its previous tick's call is still running (as `@Cron`'s
   * `waitForCompletion`; a call includes waiting for the lock). The lock already skips an
   * occurrence that finds the job running on any instance (`held`); this option only adds that
   * such a tick on this instance never reaches the lock, so it emits no `skipped` event.
   */
  waitForCompletion?: boolean;
  /**
   * How late (ms) a tick may fire and still run (as `@Cron`'s `threshold`, default 250); a later
   * one is skipped by the scheduler with a warning. A late tick that runs still claims the
   * occurrence it was scheduled for.
   */
  threshold?: number;
  /**
   * Let the process exit while the job is waiting for its next tick (as `@Cron`'s
   * `unrefTimeout`). The lock's own timers (renewal) only exist while a run is in progress.
   */
  unrefTimeout?: boolean;
  /**
   * Run occurrences that no instance ran (the fleet was down, the store unreachable, the job
   * still running), when an instance starts, when its store answers again after an outage, and
   * after each run: `'latest'` runs the most recent missed occurrence once, `'all'` runs each in
   * order, oldest first (at most 100 at once). Each runs once across the fleet, with
   * `ctx.trigger === 'catch-up'` and `ctx.scheduledAt` the missed occurrence. Absent: missed
   * occurrences are reported (`missed` event, log line, metric), not run. A job new to the store
   * has missed nothing.
   */
  catchUp?: 'latest' | 'all';
  /**
   * How far back `catchUp` looks. Default `'1d'`; at least one period of the schedule (for an
   * irregular one, its shortest gap: a day for `0 9 * * 1-5`) and at most 2^31-1 ms. Older
   * missed occurrences are reported, not run.
   */
  catchUpWindow?: Duration;
  /**
   * What an occurrence does when the job's previous run still holds the lock on some instance:
   * `'skip'` (default) skips it as `held`; `'queue'` runs it as soon as that run releases the lock
   * (on whichever instance wins; at most one queued, later ones are skipped as `merged`);
   * `'replace'` aborts the running one's `ctx.signal` with `ReplacedError`, then runs as for
   * `'queue'` once the lock is released or expired.
   */
  overlap?: OverlapPolicy;
}
