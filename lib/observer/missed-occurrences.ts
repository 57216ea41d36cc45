import type { MissedReason, SkipReason } from './events.js';

/** Occurrences whose skip each job remembers, to say why one was missed. */
const REMEMBERED_SKIPS = 32;

/**
 * What this instance saw of recent occurrences it did not run (internal): when the instance that
 * claims a later occurrence reports one as missed, the reason is known if this instance skipped
 * it. Bounded per job; names are those the app runs.
 */
export class RecentSkips {
  private readonly jobs = new Map<string, Map<number, MissedReason>>();

  /** This instance skipped occurrence `at` of `name` for `reason`. */
  skipped(name: string, at: number | undefined, reason: SkipReason): void {
    if (
      at === undefined ||
      (reason !== 'held' && reason !== 'store-error' && reason !== 'shutting-down')
    ) {
      return;
    }
    let skips = this.jobs.get(name);
    if (!skips) {
      skips = new Map();
      this.jobs.set(name, skips);
    }
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
