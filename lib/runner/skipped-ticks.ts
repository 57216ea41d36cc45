import type { LockJob } from '../options/job-options.js';

/**
 * Tells a catch-up job's tick that the scheduler fired no tick for the occurrences between this
 * instance's previous tick and it: the process was frozen (a suspended VM, a long blocking call)
 * or its clock stepped forward (an NTP step, a test's `setSystemTime()`). Nothing else tells
 * such an instance: the store answered every tick, so no catch-up is due, and without a look the
 * tick's claim passes those occurrences, which are then only reported missed.
 */
export class SkippedTicks {
  /** The occurrence of this instance's last tick. */
  private last: number | undefined;

  /**
   * @param job Its `missedBetween` is the claim's own check (read at each tick): a comparison
   *   when the ticks came in order, a cron step only after a gap.
   */
  constructor(private readonly job: Pick<LockJob, 'missedBetween'>) {}

  /** Whether occurrences were skipped before the tick of `scheduledAt`; remembers it. */
  before(scheduledAt: number): boolean {
    const last = this.last;
    this.last = scheduledAt;
    if (last === undefined || last >= scheduledAt || !this.job.missedBetween) {
      return false;
    }
    try {
      return this.job.missedBetween(last, scheduledAt).occurrences.length > 0;
    } catch {
      // `cron` found no date: as a catch-up that failed, nothing is caught up.
      return false;
    }
  }
}
