import { CronTime } from 'cron';
import type { Zone } from 'luxon';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { INVALID_SCHEDULED_AT } from '../cron-lock.messages.js';

/** Where an occurrence comes from: a cron expression in a zone, or a fixed interval. */
export type OccurrenceSchedule =
  | { kind: 'cron'; cronTime: string; timeZone?: string; utcOffset?: number }
  | { kind: 'interval'; every: number };

/** Longest look-back for a previous cron occurrence (covers `0 0 29 2 *`: every 4 years). */
const MAX_LOOKBACK_MS = 9 * 366 * 86_400_000;

/** The last instant a `Date` holds, in ms since epoch (ECMAScript's time value range). */
export const LAST_DATE_MS = 8.64e15;

/** Whether `value` is whole ms since epoch that a `Date` holds (0 to {@link LAST_DATE_MS}). */
export function isDateMs(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= LAST_DATE_MS;
}

/**
 * The occurrence a caller names (`run({ scheduledAt })`), in ms since epoch; `undefined` when
 * absent. Only a valid `Date` or a whole, non-negative number of ms passes: a fraction would be
 * truncated silently by `Date`, and the lock store refuses anything but plain digits anyway
 * (`Infinity` or `NaN` would otherwise reach it as text). A number no `Date` holds is refused too:
 * every report of the occurrence (log line, event, history) makes it a `Date`, and its
 * `toISOString()` would throw a `RangeError` out of the run. `call` names the API in the error.
 *
 * @throws {CronLockConfigError} naming `call` and the fix.
 */
export function scheduledAtOf(value: unknown, call: string): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const ms = value instanceof Date ? value.getTime() : value;
  if (!isDateMs(ms)) {
    throw new CronLockConfigError(INVALID_SCHEDULED_AT(call));
  }
  return ms;
}

/**
 * Parses a cron expression the way `@nestjs/schedule` will (same `cron` package), so a bad
 * expression is reported at bootstrap instead of by the scheduler. Throws the parser's error.
 */
export function createCronTime(cronTime: string, timeZone?: string, utcOffset?: number): CronTime {
  return utcOffset !== undefined
    ? new CronTime(cronTime, null, utcOffset)
    : new CronTime(cronTime, timeZone ?? null);
}

/**
 * The occurrence a tick at `now` belongs to: the latest scheduled time at or before `now`,
 * read from the instance's own clock. Two instances whose clocks differ by less than half a
 * period therefore name the same occurrence, which is what lets the store run it only once
 * — "now" itself would differ on each instance and never collide.
 *
 * A cron occurrence is named by the first instant of its local wall-clock time (see
 * {@link firstInstantOfWallClock}): in the hour a fall-back repeats, 02:30 is one occurrence
 * however many times, and on whichever pass, the scheduler fires it.
 *
 * For intervals the occurrence is the interval-aligned bucket of the wall clock: instances
 * started at different moments still agree on which bucket a tick falls in.
 */
export function occurrenceAt(schedule: OccurrenceSchedule, now: number, cron?: CronTime): number {
  if (schedule.kind === 'interval') {
    // Whole ms even for a fractional interval: the store refuses anything else.
    return Math.floor(Math.floor(now / schedule.every) * schedule.every);
  }
  const time = cron ?? createCronTime(schedule.cronTime, schedule.timeZone, schedule.utcOffset);
  return firstInstantOfWallClock(time)(previousCronDate(time, now));
}

/**
 * The latest occurrence of `time` at or before `now` (ms since epoch).
 * `cron` only walks forward, so: widen a look-back window until it contains an occurrence,
 * then bisect it; about 2·log2(window in seconds) forward steps, whatever the expression.
 */
export function previousCronDate(time: CronTime, now: number): number {
  const zone = zoneOf(time);
  const next = (from: number): number => nextCronDate(time, from, zone);
  // getNextDateFrom is strictly after its start (at second resolution), so start 1 ms past
  // `now`'s second floor minus one second to include an occurrence exactly at `now`.
  const nowSecond = Math.floor(now / 1000) * 1000;
  if (next(nowSecond - 1000) <= now) {
    // An occurrence falls in the last second: it is the one being fired.
    let candidate = next(nowSecond - 1000);
    for (let following = next(candidate); following <= now; following = next(candidate)) {
      candidate = following;
    }
    return candidate;
  }
  let window = 2_000;
  while (next(now - window) > now) {
    if (window > MAX_LOOKBACK_MS) {
      throw new RangeError(`no occurrence of "${String(time.source)}" in the last 9 years`);
    }
    window *= 2;
  }
  // Invariant: next(low) <= now < next(high).
  let low = now - window;
  let high = now - window / 2;
  while (high - low > 1_000) {
    const middle = Math.floor((low + high) / 2);
    if (next(middle) <= now) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return next(low);
}

/**
 * The occurrence of each tick of one cron job, remembered from one tick to the next.
 *
 * Finding the latest occurrence at or before "now" walks the `cron` package forward several
 * times (see previousCronDate), which can take longer than the lock's round trip to Redis, on
 * the path from the tick to the job's first line. Ticks come in order, so after
 * each tick the next two occurrences are worked out ({@link prepare}, called once the run is
 * over), and the next tick only compares numbers. Any other instant (the first tick, a clock
 * step, a tick missed while the process was frozen) falls back to the full search, so the answer
 * is always occurrenceAt's. Nothing is worked out at bootstrap: an app with many cron jobs
 * starts as fast as before.
 *
 * Ticks are matched on the instants the scheduler fires; what a tick is named is the first
 * instant of that wall-clock time (see {@link firstInstantOfWallClock}), worked out with them.
 */
export class CronOccurrences {
  /** The occurrence of the last tick, then the two that follow it (NaN: not worked out yet). */
  private current = Number.NaN;
  private following = Number.NaN;
  private afterThat = Number.NaN;
  /** The names of those three (their wall-clock time's first instant). */
  private currentName = Number.NaN;
  private followingName = Number.NaN;
  private afterThatName = Number.NaN;
  /** The name of the occurrence before the current one, when ticks came in order; else NaN. */
  private previousName = Number.NaN;
  private readonly zone: string | undefined;
  private readonly nameOf: (instant: number) => number;

  constructor(private readonly time: CronTime) {
    this.zone = zoneOf(time);
    this.nameOf = firstInstantOfWallClock(time);
  }

  /** The occurrence a tick at `now` belongs to (ms since epoch). */
  at(now: number): number {
    // Comparisons with NaN are false: an unknown bound never matches.
    if (now >= this.current && now < this.following) {
      return this.currentName;
    }
    if (now >= this.following && now < this.afterThat) {
      this.previousName = this.currentName;
      this.current = this.following;
      this.currentName = this.followingName;
      this.following = this.afterThat;
      this.followingName = this.afterThatName;
      this.afterThat = Number.NaN;
      return this.currentName;
    }
    this.current = previousCronDate(this.time, now);
    this.currentName = this.nameOf(this.current);
    this.previousName = Number.NaN;
    this.following = Number.NaN;
    this.afterThat = Number.NaN;
    return this.currentName;
  }

  /**
   * Whether `earlier` is the occurrence right before `later`, as far as the ticks in order tell
   * (no cron step): lets the common claim, whose previous occurrence is the one before it, skip
   * enumerating what was missed. `false` when unknown.
   */
  follows(earlier: number, later: number): boolean {
    return later === this.currentName && earlier === this.previousName;
  }

  /**
   * The name of the occurrence after `name` when `name` is the last tick's, worked out as
   * {@link prepare} does (which the tick then finds done); `undefined` otherwise, or when `cron`
   * found no later date. Lets catch-up tell "nothing due since this run" without a search.
   */
  nameAfter(name: number): number | undefined {
    if (name !== this.currentName) {
      return undefined;
    }
    this.prepare();
    return Number.isNaN(this.followingName) ? undefined : this.followingName;
  }

  /** Works out the two occurrences after the last tick's, for the next tick to find. */
  prepare(): void {
    if (Number.isNaN(this.current)) {
      return;
    }
    try {
      if (Number.isNaN(this.following)) {
        this.following = this.after(this.current);
        this.followingName = this.nameOf(this.following);
      }
      if (Number.isNaN(this.afterThat)) {
        this.afterThat = this.after(this.following);
        this.afterThatName = this.nameOf(this.afterThat);
      }
    } catch {
      // `cron` found no later date (it gives up after some years): the next tick searches, and
      // reports whatever it finds, as it did before this cache existed.
      this.following = Number.NaN;
      this.afterThat = Number.NaN;
    }
  }

  private after(from: number): number {
    return nextCronDate(this.time, from, this.zone);
  }
}

/** Longest shift of a fall-back the search below looks for (real ones are 30 min to 2 h). */
const MAX_FALL_BACK_MS = 3 * 3_600_000;

/**
 * How the occurrences of `time` are named: each instant maps to the first instant at which its
 * local wall-clock time occurs in the job's zone. Only a fall-back makes them differ: in Paris on
 * 2025-10-26, 02:30 CET (01:30Z) is named 02:30 CEST (00:30Z), the hour before.
 *
 * Why: `cron` fires a repeated local time once on a scheduler that was running before the
 * change, but an instance started between 02:00 and 02:30 CET fires 02:30 again, an hour later.
 * Named by the instant, that second tick would be a new occurrence and run the job twice; named
 * by its wall-clock time, the store answers `tick-done`. So a job runs once per wall-clock time:
 * an hourly job runs once at 02:00 on a 25-hour day, and a job every 15 minutes skips the second
 * pass of 02:00–02:59. A local time that a spring-forward skips has no instant of its own: `cron`
 * fires it at the first instant after the gap (03:00 in Paris), which is unique and names it.
 *
 * Fixed offsets (`utcOffset`) and UTC never repeat a wall-clock time: the names are the instants.
 */
export function firstInstantOfWallClock(time: CronTime): (instant: number) => number {
  if (time.utcOffset !== undefined && time.utcOffset !== null) {
    return sameInstant;
  }
  let zone: Zone | undefined;
  return (instant) => {
    // The zone of a date `cron` produced: its own rules for the zone name (or the process's
    // zone), read once, on first use rather than at bootstrap. Searched from just before an
    // occurrence, `cron` finds that occurrence: never a search that could come up empty.
    zone ??= time.getNextDateFrom(new Date(instant - 1_000), zoneOf(time)).zone;
    if (zone.isUniversal) {
      return instant;
    }
    // An earlier instant with the same wall-clock time lies before a fall-back that ended at
    // most MAX_FALL_BACK_MS ago, at the offset the zone had then (offsets in minutes).
    const offset = zone.offset(instant);
    const before = zone.offset(instant - MAX_FALL_BACK_MS);
    if (before <= offset) {
      return instant;
    }
    const earlier = instant - (before - offset) * 60_000;
    return zone.offset(earlier) === before ? earlier : instant;
  };
}

const sameInstant = (instant: number): number => instant;

/**
 * Milliseconds between two consecutive occurrences following `from`: the period used to size
 * the occurrence marker's lifetime. Irregular expressions give their local gap.
 */
export function periodAfter(schedule: OccurrenceSchedule, from: number, cron?: CronTime): number {
  if (schedule.kind === 'interval') {
    return schedule.every;
  }
  const time = cron ?? createCronTime(schedule.cronTime, schedule.timeZone, schedule.utcOffset);
  const zone = zoneOf(time);
  const first = nextCronDate(time, from, zone);
  const second = nextCronDate(time, first, zone);
  return second - first;
}

/** Consecutive gaps {@link shortestPeriodAfter} looks at, at most (about a year of a weekly job). */
const PERIOD_SAMPLES = 64;

/**
 * The shortest gap between consecutive occurrences of `time` after `from`, looking no further
 * than the first gap of at most `enough` ms (then that one) or {@link PERIOD_SAMPLES} gaps.
 * The first gap alone depends on the day for an irregular schedule: a weekday job's is 3 days
 * from Thursday 09:00 to Friday 09:00 and 1 day otherwise, so a check against it would pass or
 * fail with the day the app starts. Stops early: each step of `cron` is slow.
 */
export function shortestPeriodAfter(time: CronTime, from: number, enough: number): number {
  const zone = zoneOf(time);
  let shortest = Number.POSITIVE_INFINITY;
  try {
    let previous = nextCronDate(time, from, zone);
    for (let step = 0; step < PERIOD_SAMPLES && shortest > enough; step++) {
      const next = nextCronDate(time, previous, zone);
      if (next <= previous) {
        break;
      }
      shortest = Math.min(shortest, next - previous);
      previous = next;
    }
  } catch {
    // `cron` found no later date: the gaps seen so far are all there is.
  }
  return shortest;
}

/** The first occurrence of `time` strictly after `from` (ms since epoch), in `zone`. */
function nextCronDate(time: CronTime, from: number, zone: string | undefined): number {
  return time.getNextDateFrom(new Date(from), zone).toMillis();
}

/**
 * The zone a CronTime fires in, as `getNextDateFrom` wants it. Without it `cron` reads the
 * start date in the process's zone and `timeZone`/`utcOffset` would be silently ignored.
 */
export function zoneOf(time: CronTime): string | undefined {
  if (time.utcOffset !== undefined && time.utcOffset !== null) {
    const offset = time.utcOffset;
    const sign = offset < 0 ? '-' : '+';
    const hours = String(Math.trunc(Math.abs(offset) / 60)).padStart(2, '0');
    const minutes = String(Math.abs(offset) % 60).padStart(2, '0');
    return `UTC${sign}${hours}:${minutes}`;
  }
  return time.timeZone ?? undefined;
}
