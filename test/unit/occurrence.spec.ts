import { CronJob } from 'cron';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createCronTime,
  CronOccurrences,
  firstInstantOfWallClock,
  occurrenceAt,
  periodAfter,
  previousCronDate,
  type OccurrenceSchedule,
} from '../../lib/utils/occurrence.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const utc = (iso: string): number => Date.parse(`${iso}Z`);

const cron = (cronTime: string, timeZone = 'UTC'): OccurrenceSchedule => ({
  kind: 'cron',
  cronTime,
  timeZone,
});

/**
 * The occurrences the `cron` package itself fires in (from, to], walking forward with
 * getNextDateFrom exactly as a CronJob schedules its next tick: the independent oracle.
 */
function firingTimes(cronTime: string, timeZone: string, from: number, to: number): number[] {
  const time = createCronTime(cronTime, timeZone);
  const times: number[] = [];
  for (let at = time.getNextDateFrom(new Date(from), timeZone).toMillis(); at <= to;) {
    times.push(at);
    at = time.getNextDateFrom(new Date(at), timeZone).toMillis();
  }
  return times;
}

/**
 * Checks previousCronDate against the `cron` package for many instants of [from, to]:
 * - at each firing time of a running job (and 5 ms, 999 ms after), it names that firing time;
 * - at any instant, it names a date that getNextDateFrom produces, at or before the instant,
 *   with no such date between it and the instant.
 * `betweenStarts: false` skips the last check from starts strictly between the two, for local
 * times that a fall-back repeats: there `cron` itself is not monotonic (walking from the first
 * 02:30 it skips the repeated 02:30, walking from 02:45 it finds it), so no answer satisfies it.
 * Returns the firing times in [from, to].
 */
function expectConsistentWithCron(
  cronTime: string,
  timeZone: string,
  from: number,
  to: number,
  { betweenStarts = true } = {},
): number[] {
  const time = createCronTime(cronTime, timeZone);
  const next = (start: number): number =>
    time.getNextDateFrom(new Date(start), timeZone).toMillis();
  const fired = firingTimes(cronTime, timeZone, from, to);
  const at = (now: number): string =>
    `${cronTime} in ${timeZone} at ${new Date(now).toISOString()}`;

  for (const firing of fired) {
    for (const latency of [0, 5, 999]) {
      expect(previousCronDate(time, firing + latency), at(firing + latency)).toBe(firing);
    }
  }

  const instants = fired.map((firing) => firing - 1);
  for (let now = from; now <= to; now += 31 * MINUTE + 7 * SECOND) instants.push(now);
  for (const now of instants) {
    const occurrence = previousCronDate(time, now);
    expect(occurrence, at(now)).toBeLessThanOrEqual(now);
    // A date cron produces: the next one after the second before it is itself.
    expect(next(occurrence - SECOND), at(now)).toBe(occurrence);
    // None between it and now: cron walking from it (or from the second before now) finds
    // nothing up to now...
    expect(next(occurrence), at(now)).toBeGreaterThan(now);
    expect(next(Math.max(occurrence, now - SECOND)), at(now)).toBeGreaterThan(now);
    // ...nor does it from any start in between.
    if (betweenStarts) {
      const gap = now - occurrence;
      for (const start of [occurrence + gap / 3, occurrence + (2 * gap) / 3]) {
        expect(next(start), at(now)).toBeGreaterThan(now);
      }
    }
  }
  return fired;
}

describe('previousCronDate / occurrenceAt', () => {
  describe('in UTC', () => {
    const hourly = cron('0 * * * *');

    it('names the occurrence itself when ticking exactly at it', () => {
      expect(occurrenceAt(hourly, utc('2025-01-15T10:00:00'))).toBe(utc('2025-01-15T10:00:00'));
    });

    it('names the occurrence a few milliseconds after it', () => {
      expect(occurrenceAt(hourly, utc('2025-01-15T10:00:00.005'))).toBe(utc('2025-01-15T10:00:00'));
      expect(occurrenceAt(hourly, utc('2025-01-15T10:00:00.999'))).toBe(utc('2025-01-15T10:00:00'));
    });

    it('names the latest occurrence in the middle of a period', () => {
      expect(occurrenceAt(hourly, utc('2025-01-15T10:29:41.250'))).toBe(utc('2025-01-15T10:00:00'));
    });

    it('names the previous occurrence one millisecond before the next one', () => {
      expect(occurrenceAt(hourly, utc('2025-01-15T10:59:59.999'))).toBe(utc('2025-01-15T10:00:00'));
    });

    it('handles 6-field expressions with seconds', () => {
      const everyTenSeconds = cron('*/10 * * * * *');
      expect(occurrenceAt(everyTenSeconds, utc('2025-01-15T10:00:07.500'))).toBe(
        utc('2025-01-15T10:00:00'),
      );
      expect(occurrenceAt(everyTenSeconds, utc('2025-01-15T10:00:10'))).toBe(
        utc('2025-01-15T10:00:10'),
      );
      expect(occurrenceAt(cron('30 15 * * * *'), utc('2025-01-15T10:15:29.999'))).toBe(
        utc('2025-01-15T09:15:30'),
      );
      expect(occurrenceAt(cron('* * * * * *'), utc('2025-01-15T10:15:29.999'))).toBe(
        utc('2025-01-15T10:15:29'),
      );
    });

    it('handles 5-field expressions every few minutes', () => {
      expect(occurrenceAt(cron('*/5 * * * *'), utc('2025-01-15T10:14:59'))).toBe(
        utc('2025-01-15T10:10:00'),
      );
    });

    it('handles daily expressions, looking back into the previous day', () => {
      const daily = cron('0 3 * * *');
      expect(occurrenceAt(daily, utc('2025-01-15T12:00:00'))).toBe(utc('2025-01-15T03:00:00'));
      expect(occurrenceAt(daily, utc('2025-01-15T02:59:59'))).toBe(utc('2025-01-14T03:00:00'));
    });

    it('handles monthly and yearly expressions', () => {
      expect(occurrenceAt(cron('0 0 1 * *'), utc('2025-03-15T08:00:00'))).toBe(
        utc('2025-03-01T00:00:00'),
      );
      expect(occurrenceAt(cron('0 0 1 * *'), utc('2025-03-01T00:00:00'))).toBe(
        utc('2025-03-01T00:00:00'),
      );
      expect(occurrenceAt(cron('0 0 1 1 *'), utc('2025-06-01T00:00:00'))).toBe(
        utc('2025-01-01T00:00:00'),
      );
    });

    it('handles weekday expressions', () => {
      // 2025-01-15 is a Wednesday; the previous Monday 09:00 is 2025-01-13.
      expect(occurrenceAt(cron('0 9 * * 1'), utc('2025-01-15T12:00:00'))).toBe(
        utc('2025-01-13T09:00:00'),
      );
    });

    it('finds a leap-day occurrence years back', () => {
      expect(occurrenceAt(cron('0 0 29 2 *'), utc('2027-06-01T00:00:00'))).toBe(
        utc('2024-02-29T00:00:00'),
      );
    });

    it('agrees with the cron package over a working day of an irregular expression', () => {
      const fired = expectConsistentWithCron(
        '0 7,8,13 * * 1-5',
        'UTC',
        utc('2025-01-15T06:00:00'),
        utc('2025-01-15T14:00:00'),
      );
      expect(fired).toEqual([
        utc('2025-01-15T07:00:00'),
        utc('2025-01-15T08:00:00'),
        utc('2025-01-15T13:00:00'),
      ]);
    });

    it('accepts a prepared CronTime', () => {
      const time = createCronTime('0 * * * *', 'UTC');
      expect(occurrenceAt(hourly, utc('2025-01-15T10:30:00'), time)).toBe(
        utc('2025-01-15T10:00:00'),
      );
    });

    it('rejects an invalid expression the way the scheduler would', () => {
      expect(() => createCronTime('61 * * * *')).toThrow();
      expect(() => createCronTime('not a cron')).toThrow();
    });
  });

  describe('in time zones', () => {
    it('fires in Europe/Paris local time', () => {
      // 09:00 in Paris is 08:00Z in winter (UTC+1) and 07:00Z in summer (UTC+2).
      const schedule = cron('0 9 * * *', 'Europe/Paris');
      expect(occurrenceAt(schedule, utc('2025-01-15T08:30:00'))).toBe(utc('2025-01-15T08:00:00'));
      expect(occurrenceAt(schedule, utc('2025-01-15T07:59:59'))).toBe(utc('2025-01-14T08:00:00'));
      expect(occurrenceAt(schedule, utc('2025-07-15T07:30:00'))).toBe(utc('2025-07-15T07:00:00'));
    });

    it('fires in America/New_York local time', () => {
      const schedule = cron('0 9 * * *', 'America/New_York');
      expect(occurrenceAt(schedule, utc('2025-07-15T14:00:00'))).toBe(utc('2025-07-15T13:00:00'));
      expect(occurrenceAt(schedule, utc('2025-01-15T14:30:00'))).toBe(utc('2025-01-15T14:00:00'));
    });

    it('fires at a fixed utcOffset in minutes', () => {
      const plusTwo: OccurrenceSchedule = { kind: 'cron', cronTime: '0 9 * * *', utcOffset: 120 };
      expect(occurrenceAt(plusTwo, utc('2025-01-15T07:30:00'))).toBe(utc('2025-01-15T07:00:00'));
      const minusFiveThirty: OccurrenceSchedule = {
        kind: 'cron',
        cronTime: '0 9 * * *',
        utcOffset: -330,
      };
      expect(occurrenceAt(minusFiveThirty, utc('2025-01-15T15:00:00'))).toBe(
        utc('2025-01-15T14:30:00'),
      );
    });

    describe('across daylight-saving changes (consistent with the cron package)', () => {
      const cases: Array<[string, string, string, string, boolean?]> = [
        // Europe/Paris springs forward 2025-03-30 02:00 → 03:00 (01:00Z).
        ['hourly, Paris spring-forward', '0 * * * *', 'Europe/Paris', '2025-03-29T22:00:00'],
        ['a skipped local time, Paris', '30 2 * * *', 'Europe/Paris', '2025-03-29T22:00:00'],
        [
          'every 15 min, Paris spring-forward',
          '*/15 * * * *',
          'Europe/Paris',
          '2025-03-30T00:00:00',
        ],
        // Europe/Paris falls back 2025-10-26 03:00 → 02:00 (01:00Z).
        ['hourly, Paris fall-back', '0 * * * *', 'Europe/Paris', '2025-10-25T22:00:00'],
        [
          'a repeated local time, Paris',
          '30 2 * * *',
          'Europe/Paris',
          '2025-10-25T22:00:00',
          false,
        ],
        // America/New_York springs forward 2025-03-09 02:00 → 03:00 (07:00Z) and falls back
        // 2025-11-02 02:00 → 01:00 (06:00Z).
        ['hourly, New York spring-forward', '0 * * * *', 'America/New_York', '2025-03-09T02:00:00'],
        ['a skipped local time, New York', '30 2 * * *', 'America/New_York', '2025-03-09T04:00:00'],
        ['hourly, New York fall-back', '0 * * * *', 'America/New_York', '2025-11-02T02:00:00'],
        [
          'a repeated local time, New York',
          '30 1 * * *',
          'America/New_York',
          '2025-11-02T03:00:00',
          false,
        ],
        [
          'every 20 min, New York fall-back',
          '*/20 * * * *',
          'America/New_York',
          '2025-11-02T04:00:00',
        ],
      ];

      it.each(cases)('%s (%s)', (_label, cronTime, timeZone, fromIso, betweenStarts = true) => {
        const from = utc(fromIso);
        const fired = expectConsistentWithCron(cronTime, timeZone, from, from + 6 * HOUR, {
          betweenStarts,
        });
        expect(fired.length).toBeGreaterThan(0);
      });

      it('sees the 23-hour and 25-hour days as the period of a daily job', () => {
        const daily = cron('0 12 * * *', 'Europe/Paris');
        expect(periodAfter(daily, utc('2025-03-29T10:00:00'))).toBe(23 * HOUR);
        expect(periodAfter(daily, utc('2025-10-25T09:00:00'))).toBe(25 * HOUR);
        expect(periodAfter(daily, utc('2025-01-15T12:00:00'))).toBe(24 * HOUR);
      });
    });
  });

  describe('with skewed clocks', () => {
    /**
     * Simulates one instance whose clock reads `true time + skew`: started at true time
     * `trueStart`, its scheduler (the `cron` package, reading the instance's clock) fires
     * `count` times, each `latency` ms late, and each tick derives its occurrence from the
     * instance's clock. Returns the true times of the ticks and the occurrences derived.
     */
    function simulateInstance(
      schedule: Extract<OccurrenceSchedule, { kind: 'cron' }>,
      trueStart: number,
      skew: number,
      latency: number,
      count: number,
    ): { trueTicks: number[]; occurrences: number[] } {
      const time = createCronTime(schedule.cronTime, schedule.timeZone);
      const trueTicks: number[] = [];
      const occurrences: number[] = [];
      let clock = trueStart + skew;
      for (let i = 0; i < count; i++) {
        const firesAt = time.getNextDateFrom(new Date(clock), schedule.timeZone).toMillis();
        clock = firesAt + latency;
        trueTicks.push(clock - skew);
        occurrences.push(occurrenceAt(schedule, clock));
      }
      return { trueTicks, occurrences };
    }

    it.each([
      ['every 5 minutes', '*/5 * * * *', 5 * MINUTE],
      ['hourly', '0 * * * *', HOUR],
      ['every 10 seconds', '*/10 * * * * *', 10 * SECOND],
    ])(
      'instances with clocks up to half a period apart name the same %s occurrences',
      (_label, cronTime, period) => {
        const schedule = { kind: 'cron' as const, cronTime, timeZone: 'Europe/Paris' };
        // Across the Paris spring-forward, mid-period between two occurrences.
        const [first] = firingTimes(
          cronTime,
          'Europe/Paris',
          utc('2025-03-30T00:40:00'),
          utc('2025-03-30T00:40:00') + period,
        );
        const trueStart = first - period / 2;
        const maxSkew = period / 2 - period / 20;
        const skews = [-maxSkew, -period / 4, -1_500, 0, 7, period / 3, maxSkew];
        const expected = firingTimes(cronTime, 'Europe/Paris', trueStart, first + 2 * period);

        for (const latency of [0, 5, Math.min(900, period / 10)]) {
          const instances = skews.map((skew) =>
            simulateInstance(schedule, trueStart, skew, latency, 3),
          );
          for (const instance of instances) {
            expect(instance.occurrences).toEqual(expected);
          }
          // The ticks really happened at different true times, up to almost a period apart.
          const firstTicks = instances.map((instance) => instance.trueTicks[0]);
          expect(Math.max(...firstTicks) - Math.min(...firstTicks)).toBeGreaterThan(period / 2);
        }
      },
    );

    it('would disagree if the occurrence were read from true time instead (why the own clock matters)', () => {
      const schedule = cron('*/5 * * * *');
      const occurrence = utc('2025-01-15T10:05:00');
      const aheadBy = 2 * MINUTE;
      // The instance whose clock runs ahead ticks two true minutes before the occurrence.
      const trueTimeOfTick = occurrence + 5 - aheadBy;
      expect(occurrenceAt(schedule, trueTimeOfTick)).not.toBe(occurrence);
      expect(occurrenceAt(schedule, trueTimeOfTick + aheadBy)).toBe(occurrence);
    });
  });

  describe('for intervals', () => {
    const every10s: OccurrenceSchedule = { kind: 'interval', every: 10 * SECOND };

    it('names the interval-aligned bucket of the clock', () => {
      expect(occurrenceAt(every10s, 1_700_000_012_345)).toBe(1_700_000_010_000);
      expect(occurrenceAt(every10s, 1_700_000_010_000)).toBe(1_700_000_010_000);
      expect(occurrenceAt(every10s, 1_700_000_019_999)).toBe(1_700_000_010_000);
      expect(occurrenceAt(every10s, 1_700_000_020_000)).toBe(1_700_000_020_000);
    });

    it('puts every tick of one bucket in the same occurrence and consecutive buckets in increasing ones', () => {
      const start = 1_700_000_000_000;
      let previous = -Infinity;
      for (let now = start; now < start + 60 * SECOND; now += 250) {
        const occurrence = occurrenceAt(every10s, now);
        expect(occurrence).toBeLessThanOrEqual(now);
        expect(now - occurrence).toBeLessThan(10 * SECOND);
        expect(occurrence % (10 * SECOND)).toBe(0);
        expect(occurrence).toBeGreaterThanOrEqual(previous);
        previous = occurrence;
      }
    });

    it('names whole milliseconds for a fractional interval, as the store requires', () => {
      const odd: OccurrenceSchedule = { kind: 'interval', every: 1_500.5 };
      for (let now = 1_700_000_000_000; now < 1_700_000_010_000; now += 333) {
        expect(Number.isSafeInteger(occurrenceAt(odd, now))).toBe(true);
      }
    });

    it('reports the interval as its period', () => {
      expect(periodAfter(every10s, 123)).toBe(10 * SECOND);
    });
  });
});

describe('CronOccurrences', () => {
  /** Counts the forward walks of the `cron` package a call makes. */
  function counted(cronTime: string, timeZone: string) {
    const time = createCronTime(cronTime, timeZone);
    const original = time.getNextDateFrom.bind(time);
    const calls = { count: 0 };
    time.getNextDateFrom = (...args: Parameters<typeof original>) => {
      calls.count += 1;
      return original(...args);
    };
    return { time, calls };
  }

  it.each([
    ['*/5 * * * * *', 'UTC', utc('2030-01-01T00:00:00'), 5 * SECOND],
    ['0 * * * *', 'UTC', utc('2030-01-01T00:00:00'), HOUR],
    // Across the spring-forward and fall-back changes of Europe/Paris (2030-03-31, 2030-10-27).
    ['30 2 * * *', 'Europe/Paris', utc('2030-03-29T00:00:00'), 24 * HOUR],
    ['0 1-3 * * *', 'Europe/Paris', utc('2030-10-20T00:00:00'), 8 * HOUR],
  ])(
    'names the same occurrence as occurrenceAt at every tick of %s (%s), walking only after the run',
    (cronTime, timeZone, start, step) => {
      const { time, calls } = counted(cronTime, timeZone);
      const reference = createCronTime(cronTime, timeZone);
      const occurrences = new CronOccurrences(time);
      const ticks = firingTimes(cronTime, timeZone, start, start + 40 * step);
      expect(ticks.length).toBeGreaterThan(20);
      ticks.forEach((tick, index) => {
        for (const at of [tick, tick + 5]) {
          const before = calls.count;
          expect(occurrences.at(at)).toBe(occurrenceAt(cron(cronTime, timeZone), at, reference));
          if (index > 0) {
            // The previous tick's prepare() worked it out: no walk between tick and job.
            expect(calls.count).toBe(before);
          }
        }
        occurrences.prepare();
      });
    },
  );

  it('falls back to the full search for a first tick, a clock step back and a missed tick', () => {
    const { time } = counted('*/10 * * * * *', 'UTC');
    const reference = createCronTime('*/10 * * * * *', 'UTC');
    const occurrences = new CronOccurrences(time);
    const base = utc('2030-06-01T12:00:00');
    for (const at of [base + 3, base + 10_001, base - 25_000, base + 10 * MINUTE + 7, base + 5]) {
      expect(occurrences.at(at)).toBe(occurrenceAt(cron('*/10 * * * * *'), at, reference));
      occurrences.prepare();
    }
  });
});

/** A small seeded generator (mulberry32): the same "random" instants on every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const wallClockFormats = new Map<string, Intl.DateTimeFormat>();

/** The local wall-clock time of `at` in `timeZone`, as 'YYYY-MM-DD HH:mm:ss'. */
function wallClock(at: number, timeZone: string): string {
  let format = wallClockFormats.get(timeZone);
  format ??= new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  wallClockFormats.set(timeZone, format);
  return format.format(at);
}

/**
 * For the tests that start many instances: each costs dozens of `cron` searches of a few ms
 * each, and the machine running the suite may be busy.
 */
const MANY_INSTANCES_TIMEOUT = 240_000;

describe('one wall-clock occurrence is one occurrence (the cron package under a faked clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  interface Tick {
    /** When the `cron` package fired the tick (the instance's clock). */
    firedAt: number;
    /**
     * The occurrence derived by CronOccurrences, as a @LockedCron tick does: on an instance's
     * first tick, by the full search of occurrenceAt; on later ones, from what it remembered.
     */
    occurrence: number;
  }

  /**
   * Starts one instance at `startAt` on the faked clock: a `CronJob` of the `cron` package (what
   * @nestjs/schedule runs) whose ticks derive their occurrence as the module does. Runs until it
   * ticked `count` times.
   */
  function startInstance(cronTime: string, timeZone: string, startAt: number, count = 1): Tick[] {
    vi.setSystemTime(startAt);
    const occurrences = new CronOccurrences(createCronTime(cronTime, timeZone));
    const ticks: Tick[] = [];
    const job = CronJob.from({
      cronTime,
      timeZone,
      start: true,
      onTick: () => {
        const now = Date.now();
        ticks.push({ firedAt: now, occurrence: occurrences.at(now) });
        occurrences.prepare();
      },
    });
    try {
      while (ticks.length < count) {
        vi.advanceTimersToNextTimer();
      }
    } finally {
      job.stop();
      vi.clearAllTimers();
    }
    return ticks;
  }

  /**
   * Starts `starts` instances at random instants of [from, to) (as many rolling restarts would)
   * and returns, per local wall-clock time fired, the occurrences the instances derived for it.
   */
  function occurrencesByWallClock(
    cronTime: string,
    timeZone: string,
    from: number,
    to: number,
    starts: number,
  ): Map<string, Set<number>> {
    const random = seededRandom(0x5eed);
    const byWallClock = new Map<string, Set<number>>();
    for (let i = 0; i < starts; i++) {
      const startAt = from + Math.floor(random() * (to - from));
      for (const tick of startInstance(cronTime, timeZone, startAt)) {
        const key = wallClock(tick.firedAt, timeZone);
        const derived = byWallClock.get(key) ?? new Set<number>();
        derived.add(tick.occurrence);
        byWallClock.set(key, derived);
      }
    }
    return byWallClock;
  }

  describe('in the repeated hour of a fall-back', () => {
    it.each([
      // Europe/Paris falls back 2025-10-26 03:00 CEST → 02:00 CET: 02:30 is 00:30Z, then 01:30Z.
      [
        'Europe/Paris',
        '30 2 * * *',
        '2025-10-26T00:00:00',
        '2025-10-26 02:30:00',
        '2025-10-26T00:30:00',
      ],
      // America/New_York falls back 2025-11-02 02:00 EDT → 01:00 EST: 01:30 is 05:30Z, then 06:30Z.
      [
        'America/New_York',
        '30 1 * * *',
        '2025-11-02T05:00:00',
        '2025-11-02 01:30:00',
        '2025-11-02T05:30:00',
      ],
    ])(
      'instances started at 200 random instants of both passes of the hour name one occurrence (%s, %s)',
      (timeZone, cronTime, repeatedFrom, repeatedWallClock, firstInstant) => {
        const from = utc(repeatedFrom);
        const byWallClock = occurrencesByWallClock(cronTime, timeZone, from, from + 2 * HOUR, 200);
        const mismatches = [...byWallClock].filter(([, derived]) => derived.size !== 1);
        expect(mismatches).toEqual([]);
        // The repeated local time, whichever pass the instance fired in, is its first instant.
        expect(byWallClock.get(repeatedWallClock)).toEqual(new Set([utc(firstInstant)]));
      },
      MANY_INSTANCES_TIMEOUT,
    );

    it('is the case cron creates: an instance started in the second pass fires at the repeat', () => {
      // `cron` fires 02:30 CET (01:30Z) for an instance started between 02:00 and 02:30 CET,
      // although 02:30 CEST (00:30Z) already fired on the instances started before.
      const [tick] = startInstance('30 2 * * *', 'Europe/Paris', utc('2025-10-26T01:10:00'));
      expect(tick.firedAt).toBe(utc('2025-10-26T01:30:00'));
      expect(tick.occurrence).toBe(utc('2025-10-26T00:30:00'));
      expect(occurrenceAt(cron('30 2 * * *', 'Europe/Paris'), tick.firedAt)).toBe(tick.occurrence);
    });

    it.each([
      ['hourly', '0 * * * *'],
      ['every 15 minutes', '*/15 * * * *'],
    ])(
      'a job running %s through the fall-back names each wall-clock time once, the repeat as the first',
      (_label, cronTime) => {
        const timeZone = 'Europe/Paris';
        // From local midnight of the 25-hour day: the scheduler fires in both passes of 02:xx.
        const ticks = startInstance(cronTime, timeZone, utc('2025-10-25T22:00:00') - 1, 40);
        const dayTicks = ticks.filter((tick) => tick.firedAt < utc('2025-10-26T04:00:00'));
        const secondPass = dayTicks.filter(
          (tick) =>
            tick.firedAt >= utc('2025-10-26T01:00:00') && tick.firedAt < utc('2025-10-26T02:00:00'),
        );
        expect(secondPass.length).toBeGreaterThan(0);
        for (const tick of secondPass) {
          // 02:xx CET is 02:xx CEST an hour later: the same occurrence.
          expect(tick.occurrence).toBe(tick.firedAt - HOUR);
          expect(occurrenceAt(cron(cronTime, timeZone), tick.firedAt)).toBe(tick.firedAt - HOUR);
        }
        const distinct = new Set(dayTicks.map((tick) => tick.occurrence));
        const wallClocks = new Set(dayTicks.map((tick) => wallClock(tick.firedAt, timeZone)));
        expect(distinct.size).toBe(wallClocks.size);
        expect(dayTicks.length - distinct.size).toBe(secondPass.length);
      },
    );
  });

  describe('in the skipped hour of a spring-forward', () => {
    it(
      'runs a skipped local time once, at the first instant after the gap, whenever the instance started',
      () => {
        // Europe/Paris springs forward 2025-03-30 02:00 CET → 03:00 CEST (01:00Z): 02:30 never
        // happens that day. `cron` fires it at 03:00 CEST, and every instance names 01:00Z.
        const timeZone = 'Europe/Paris';
        const from = utc('2025-03-29T23:00:00');
        const byWallClock = occurrencesByWallClock(
          '30 2 * * *',
          timeZone,
          from,
          from + 2 * HOUR,
          60,
        );
        expect([...byWallClock].filter(([, derived]) => derived.size !== 1)).toEqual([]);
        expect(byWallClock.get('2025-03-30 03:00:00')).toEqual(
          new Set([utc('2025-03-30T01:00:00')]),
        );
      },
      MANY_INSTANCES_TIMEOUT,
    );
  });
});

describe('firstInstantOfWallClock', () => {
  it('names a repeated wall-clock time by its first instant, for a 1-hour and a 30-minute fall-back', () => {
    const paris = firstInstantOfWallClock(createCronTime('* * * * *', 'Europe/Paris'));
    // 02:10 CET (01:10Z) is 02:10 CEST (00:10Z); 03:10 CET (02:10Z) happens once.
    expect(paris(utc('2025-10-26T01:10:00'))).toBe(utc('2025-10-26T00:10:00'));
    expect(paris(utc('2025-10-26T00:10:00'))).toBe(utc('2025-10-26T00:10:00'));
    expect(paris(utc('2025-10-26T02:10:00'))).toBe(utc('2025-10-26T02:10:00'));
    expect(paris(utc('2025-10-26T00:59:59'))).toBe(utc('2025-10-26T00:59:59'));
    expect(paris(utc('2025-10-26T01:00:00'))).toBe(utc('2025-10-26T00:00:00'));
    // Lord Howe Island falls back 30 minutes, 02:00 (+11:00) → 01:30 (+10:30) at 15:00Z.
    const lordHowe = firstInstantOfWallClock(createCronTime('* * * * *', 'Australia/Lord_Howe'));
    expect(lordHowe(utc('2025-04-05T15:10:00'))).toBe(utc('2025-04-05T14:40:00'));
    expect(lordHowe(utc('2025-04-05T15:30:00'))).toBe(utc('2025-04-05T15:30:00'));
  });

  it('leaves every instant alone in UTC, at a fixed utcOffset and on a spring-forward', () => {
    const at = utc('2025-10-26T01:10:00');
    expect(firstInstantOfWallClock(createCronTime('* * * * *', 'UTC'))(at)).toBe(at);
    expect(firstInstantOfWallClock(createCronTime('* * * * *', undefined, 60))(at)).toBe(at);
    const paris = firstInstantOfWallClock(createCronTime('* * * * *', 'Europe/Paris'));
    for (const spring of ['2025-03-30T00:59:00', '2025-03-30T01:00:00', '2025-03-30T01:30:00']) {
      expect(paris(utc(spring))).toBe(utc(spring));
    }
  });
});
