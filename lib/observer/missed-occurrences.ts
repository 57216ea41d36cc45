import { PerName } from '../utils/recent-names.js';
import type { MissedReason, SkipReason } from './events.js';

/** Occurrences whose skip each job remembers, to say why one was missed. */
const REMEMBERED_SKIPS = 32;

/**
 * What this instance saw of recent occurrences it did not run (internal): when the instance that
 * claims a later occurrence reports one as missed, the reason is known if this instance skipped
 * it. Bounded per job; of names without a schedule (`run()` with `scheduledAt`), only those that
 * skipped most recently are kept, so a missed report of an older one gives no reason.
 */
export class RecentSkips {
  private readonly jobs = new PerName<Map<number, MissedReason>>();

  /**
   * This instance skipped occurrence `at` of `name` for `reason`; `scheduled`: the name is a job's
   * with a schedule.
   */
  skipped(name: string, scheduled: boolean, at: number | undefined, reason: SkipReason): void {
    if (
      at === undefined ||
      (reason !== 'held' && reason !== 'store-error' && reason !== 'shutting-down')
    ) {
      return;
    }
    const skips = this.jobs.use(name, scheduled, () => new Map());
    skips.set(at, reason);
    if (skips.size > REMEMBERED_SKIPS) {
      skips.delete(skips.keys().next().value as number);
    }
  }

  /** Why occurrence `at` of `name` was skipped here, if it was. */
  reasonOf(name: string, at: number): MissedReason | null {
    return this.jobs.get(name)?.get(at) ?? null;
  }
}
