import { CronTime } from 'cron';
import { describe, expect, it } from 'vitest';
import { CronOccurrences } from '../../lib/utils/occurrence.js';
import { missedBetweenOf, OccurrenceRange } from '../../lib/utils/occurrence-range.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2025, 0, 15, 10, 0, 0);
const everyMinute = new OccurrenceRange(new CronTime('* * * * *', 'UTC'));

describe('OccurrenceRange', () => {
  it('lists the occurrences strictly between two claimed ones, oldest first', () => {
    expect(everyMinute.between(T0, T0 + 5 * MINUTE)).toEqual({
      occurrences: [1, 2, 3, 4].map((m) => T0 + m * MINUTE),
      more: 0,
    });
  });

  it('lists none between two consecutive occurrences', () => {
    expect(everyMinute.between(T0, T0 + MINUTE)).toEqual({ occurrences: [], more: 0 });
  });

  it('lists at most the limit and counts the rest', () => {
    const everySecond = new OccurrenceRange(new CronTime('* * * * * *', 'UTC'));
    const { occurrences, more } = everySecond.between(T0, T0 + 3_600_000, 100);
    expect(occurrences).toHaveLength(100);
    expect(occurrences[0]).toBe(T0 + 1_000);
    expect(occurrences.length + more).toBe(3_599);
  });

  it('names a wall-clock time that a fall-back repeats once (Europe/Paris, 2025-10-26)', () => {
    const hourly = new OccurrenceRange(new CronTime('0 * * * *', 'Europe/Paris'));
    // 02:00 CEST is 00:00Z; 02:00 CET (01:00Z) is the same wall-clock time; 03:00 CET is 02:00Z.
    const { occurrences } = hourly.between(
      Date.UTC(2025, 9, 26, 0, 0, 0),
      Date.UTC(2025, 9, 26, 3, 0, 0),
    );
    expect(occurrences).toEqual([Date.UTC(2025, 9, 26, 2, 0, 0)]);
  });

  it('lists each repeated wall-clock time once when the range starts before the fall-back', () => {
    // Europe/Paris, 2025-10-26: 02:00 and 02:30 happen in CEST (00:00Z, 00:30Z) and again in CET
    // (01:00Z, 01:30Z), each one occurrence named by its first instant.
    const halfHourly = new OccurrenceRange(new CronTime('*/30 * * * *', 'Europe/Paris'));
    const after = Date.UTC(2025, 9, 25, 23, 0, 0); // 01:00 CEST
    const before = Date.UTC(2025, 9, 26, 3, 0, 0); // 04:00 CET
    const once = [
      Date.UTC(2025, 9, 25, 23, 30),
      Date.UTC(2025, 9, 26, 0, 0),
      Date.UTC(2025, 9, 26, 0, 30),
      Date.UTC(2025, 9, 26, 2, 0),
      Date.UTC(2025, 9, 26, 2, 30),
    ];
    expect(halfHourly.between(after, before)).toEqual({ occurrences: once, more: 0 });
    expect(halfHourly.recent(after, before - 1, 100)).toEqual({
      occurrences: once,
      dropped: false,
    });
    expect(halfHourly.recent(after, before - 1, 2)).toEqual({
      occurrences: once.slice(-2),
      dropped: true,
    });
  });

  it('gives the latest due occurrence, and the most recent ones up to a limit', () => {
    const now = T0 + 10 * MINUTE + 30_000;
    expect(everyMinute.latestDue(now)).toBe(T0 + 10 * MINUTE);
    expect(everyMinute.recent(T0, now, 3)).toEqual({
      occurrences: [8, 9, 10].map((m) => T0 + m * MINUTE),
      dropped: true,
    });
    expect(everyMinute.recent(T0, now, 20)).toEqual({
      occurrences: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((m) => T0 + m * MINUTE),
      dropped: false,
    });
  });

  it('knows, from ticks in order, that a claim follows the occurrence right before it', () => {
    const ticks = new CronOccurrences(new CronTime('* * * * *', 'UTC'));
    const missed = missedBetweenOf(everyMinute, ticks);
    ticks.at(T0 + 5_000);
    ticks.prepare();
    ticks.at(T0 + MINUTE + 5_000);
    expect(ticks.follows(T0, T0 + MINUTE)).toBe(true);
    expect(ticks.follows(T0 - MINUTE, T0 + MINUTE)).toBe(false);
    expect(missed(T0, T0 + MINUTE)).toEqual({ occurrences: [], more: 0 });
    // Not the pair the ticks know: enumerated.
    expect(missed(T0 - 2 * MINUTE, T0 + MINUTE)).toEqual({
      occurrences: [T0 - MINUTE, T0],
      more: 0,
    });
  });
});

describe('the occurrence after one just run (what catch-up checks after every run)', () => {
  it('is the next occurrence, named as ticks name it, from the range and from the ticks alike', () => {
    expect(everyMinute.nameAfter(T0)).toBe(T0 + MINUTE);
    expect(everyMinute.nameAfter(T0 + 1)).toBe(T0 + MINUTE);
    const ticks = new CronOccurrences(new CronTime('* * * * *', 'UTC'));
    expect(ticks.at(T0 + 15)).toBe(T0);
    expect(ticks.nameAfter(T0)).toBe(T0 + MINUTE);
    // The tick after it finds it worked out, as after prepare().
    expect(ticks.at(T0 + MINUTE + 3)).toBe(T0 + MINUTE);
    expect(ticks.nameAfter(T0 + MINUTE)).toBe(T0 + 2 * MINUTE);
  });

  it('is unknown to the ticks for any occurrence but the last tick', () => {
    const ticks = new CronOccurrences(new CronTime('* * * * *', 'UTC'));
    expect(ticks.nameAfter(T0)).toBeUndefined();
    ticks.at(T0 + 15);
    expect(ticks.nameAfter(T0 - MINUTE)).toBeUndefined();
  });

  it('can be the repeated wall-clock time itself in a fall-back hour (Europe/Paris, 2025-10-26)', () => {
    const hourly = new OccurrenceRange(new CronTime('0 * * * *', 'Europe/Paris'));
    // 02:00 CEST (00:00Z) is followed by 02:00 CET (01:00Z), the same wall-clock time and name.
    const first = Date.UTC(2025, 9, 26, 0, 0, 0);
    expect(hourly.nameAfter(first)).toBe(first);
    expect(hourly.nameAfter(Date.UTC(2025, 9, 26, 1, 0, 0))).toBe(Date.UTC(2025, 9, 26, 2, 0, 0));
  });
});
