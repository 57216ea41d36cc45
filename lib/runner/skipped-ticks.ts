import type { CronOccurrences } from '../utils/occurrence.js';
import type { OccurrenceRange } from '../utils/occurrence-range.js';

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

  constructor(
    private readonly range: OccurrenceRange,
    /** The job's ticks, remembered: ticks in order are told by a comparison, without a cron step. */
    private readonly occurrences?: CronOccurrences,
  ) {}

  /** Whether occurrences were skipped before the tick of `scheduledAt`; remembers it. */
  before(scheduledAt: number): boolean {
    const last = this.last;
    this.last = scheduledAt;
    if (last === undefined || last >= scheduledAt || this.occurrences?.follows(last, scheduledAt)) {
      return false;
    }
    try {
      const next = this.range.nameAfter(last);
      return next !== null && next < scheduledAt;
    } catch {
      // `cron` found no date: as a catch-up that failed, nothing is caught up.
      return false;
    }
  }
}
