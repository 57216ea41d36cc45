import type { CronTime } from 'cron';
import {
  firstInstantOfWallClock,
  previousCronDate,
  zoneOf,
  type CronOccurrences,
} from './occurrence.js';

/** Occurrences listed at most by {@link occurrencesBetween}; the rest are counted. */
export const MISSED_LIST_LIMIT = 100;

/**
 * The occurrences of a cron schedule between two instants, named as ticks name them (see
 * firstInstantOfWallClock): what was missed between two claimed occurrences, and what a
 * catch-up may run.
 */
export class OccurrenceRange {
  private readonly nameOf: (instant: number) => number;

  constructor(private readonly time: CronTime) {
    this.nameOf = firstInstantOfWallClock(time);
  }

  /** The latest occurrence at or before `now`, named. */
  latestDue(now: number): number {
    return this.nameOf(previousCronDate(this.time, now));
  }

  /**
   * The name of the first occurrence after the instant `after` (one step of the cron), or `null`
   * when `cron` finds none. In a repeated wall-clock hour it can be named `after` itself.
   */
  nameAfter(after: number): number | null {
    const next = this.next(after);
    return next === null ? null : this.nameOf(next);
  }

  /**
   * The occurrences strictly between `after` and `before`, oldest first: at most `limit` of them
   * (the oldest), and about how many more. One step of the cron for the common answer (none).
   */
  between(
    after: number,
    before: number,
    limit = MISSED_LIST_LIMIT,
  ): { occurrences: number[]; more: number } {
    const occurrences: number[] = [];
    let instant = after;
    // The latest name listed (or `after`): names only go back in a repeated wall-clock hour.
    let newest = after;
    while (occurrences.length < limit) {
      const next = this.next(instant);
      if (next === null) {
        return { occurrences, more: 0 };
      }
      const name = this.nameOf(next);
      if (name >= before) {
        return { occurrences, more: 0 };
      }
      // A name no later than one already listed (or than `after`) is the second pass of a
      // repeated wall-clock time, whose first pass was listed or claimed: not a new occurrence.
      if (name > newest) {
        occurrences.push(name);
        newest = name;
      }
      instant = next;
    }
    const last = occurrences[occurrences.length - 1];
    const gap = occurrences.length > 1 ? (last - occurrences[0]) / (occurrences.length - 1) : 0;
    return { occurrences, more: gap > 0 ? Math.max(0, Math.ceil((before - last) / gap) - 1) : 0 };
  }

  /**
   * The most recent occurrences after `after` and at or before `upTo`, at most `limit`, oldest
   * first; `dropped`: whether older ones past the limit were left out.
   */
  recent(after: number, upTo: number, limit: number): { occurrences: number[]; dropped: boolean } {
    const newestFirst: number[] = [];
    let instant = upTo;
    for (;;) {
      let found: number;
      try {
        found = previousCronDate(this.time, instant);
      } catch {
        break;
      }
      const name = this.nameOf(found);
      if (name <= after) {
        break;
      }
      // Walking back through a repeated wall-clock hour meets each of its times twice (second
      // pass, then first), both named by the first pass: listed once, at the first.
      const oldest = newestFirst[newestFirst.length - 1];
      if (oldest === undefined || name < oldest) {
        if (newestFirst.length === limit) {
          return { occurrences: newestFirst.reverse(), dropped: true };
        }
        newestFirst.push(name);
      }
      instant = found - 1;
    }
    return { occurrences: newestFirst.reverse(), dropped: false };
  }

  private next(from: number): number | null {
    try {
      return this.time.getNextDateFrom(new Date(from), zoneOf(this.time)).toMillis();
    } catch {
      // `cron` found no later date.
      return null;
    }
  }
}

/**
 * What the claim of `before` missed since `after`: nothing, without a cron step, when the ticks
 * in order say `after` is the occurrence right before it (the common claim).
 */
export function missedBetweenOf(
  range: OccurrenceRange,
  occurrences: CronOccurrences | undefined,
): (after: number, before: number) => { occurrences: number[]; more: number } {
  return (after, before) =>
    occurrences?.follows(after, before)
      ? { occurrences: [], more: 0 }
      : range.between(after, before);
}
