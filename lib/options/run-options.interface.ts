import type { CronLockOptions } from './job-options.interface.js';

/**
 * Options of {@link CronLockService.run}.
 *
 * @publicApi
 */
export interface RunOptions extends Omit<CronLockOptions, 'name'> {
  /**
   * The occurrence this run is for. When set, the run happens at most once per occurrence
   * across all instances (`tick-done` otherwise); when absent, the lock only prevents overlap.
   * A valid `Date` or a whole number of ms since epoch (else {@link CronLockConfigError}); the
   * store refuses one more than 15 minutes ahead of its clock (skipped as `store-error`).
   */
  scheduledAt?: Date | number;
  /**
   * Record this lock's runs as a job's are: the holder for `inspect()`, the last success and
   * failures. Default `false` for a plain lock (no `scheduledAt`, on a name no `@LockedCron` job
   * uses), which then takes the store's lean path: on Redis one small script (`SET NX PX` and the
   * server clock) to acquire and one compare-and-delete to release, writing nothing but the lock
   * key. `ctx.fencingToken` is still greater than every earlier token of that name: it comes from
   * the server's clock. A run with `scheduledAt`, or on a job's name, always records.
   */
  record?: boolean;
}
