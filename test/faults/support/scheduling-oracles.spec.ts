// The fault scenarios' checks, on records shaped as the workers write them. A check that
// mis-reads its records fails a scenario for nothing, or (as below) never returns.
import { describe, expect, it } from 'vitest';
import { occurrencesBetween } from './oracles.js';
import type { RecordPayloads, RecordType, SinkRecord } from './records.js';
import { firstTickAfter } from './scheduling-oracles.js';

/** A record of worker `instance` at monotonic time `mono` (wall: the same instant, shifted). */
function record<T extends RecordType>(
  instance: string,
  mono: number,
  type: T,
  payload: RecordPayloads[T],
): SinkRecord {
  return { type, instance, pid: 1, wall: mono + 1_796_381_838_000, mono, ...payload } as SinkRecord;
}

const SPAWNED_AT = 51_930_000;

describe('firstTickAfter (catch-up scenario)', () => {
  it("takes a scheduled run of a worker that booted across an occurrence as its scheduler's first tick", () => {
    // Reduced from a real run: three workers started together, due to catch up. The job's own
    // scheduler ticked occurrence :68 and ran it (after catching up :65), but the unlocked tick
    // recorder recorded no tick of :68: its first `tick` record is of :71, and the scenario
    // asked before that existed.
    const records = [
      record('w5', 51_930_234, 'start', {
        scheduledAt: 65_000,
        fencingToken: 1,
        durationMs: 200,
        trigger: 'catch-up',
      }),
      record('w5', 51_930_254, 'missed', { scheduledAt: 59_000, reason: 'superseded' }),
      record('w5', 51_930_254, 'missed', { scheduledAt: 62_000, reason: 'superseded' }),
      record('w5', 51_930_282, 'ready', { cron: '*/3 * * * * *', ttl: 5_000 }),
      record('w6', 51_930_347, 'skipped', { scheduledAt: 68_000, reason: 'held' }),
      record('w5', 51_930_442, 'end', { scheduledAt: 65_000, fencingToken: 1, aborted: false }),
      record('w5', 51_930_468, 'start', {
        scheduledAt: 68_000,
        fencingToken: 2,
        durationMs: 200,
        trigger: 'schedule',
      }),
      record('w5', 51_930_673, 'end', { scheduledAt: 68_000, fencingToken: 2, aborted: false }),
    ];
    expect(firstTickAfter(records, SPAWNED_AT)).toBe(68_000);
    // Once the recorder's ticks came, the scheduled run is still the first.
    const later = [...records, record('w7', 51_933_022, 'tick', { scheduledAt: 71_000 })];
    expect(firstTickAfter(later, SPAWNED_AT)).toBe(68_000);
  });

  it('takes the first tick record when it is the earliest, and ignores what came before the spawn', () => {
    const records = [
      record('w1', SPAWNED_AT - 500, 'tick', { scheduledAt: 65_000 }),
      record('w1', SPAWNED_AT - 400, 'start', {
        scheduledAt: 65_000,
        fencingToken: 1,
        durationMs: 200,
        trigger: 'schedule',
      }),
      record('w2', SPAWNED_AT + 3_022, 'tick', { scheduledAt: 71_000 }),
      record('w2', SPAWNED_AT + 3_030, 'start', {
        scheduledAt: 71_000,
        fencingToken: 2,
        durationMs: 200,
        trigger: 'schedule',
      }),
      record('w2', SPAWNED_AT + 6_001, 'tick', { scheduledAt: 74_000 }),
    ];
    expect(firstTickAfter(records, SPAWNED_AT)).toBe(71_000);
  });

  it('fails, naming what is missing, when no worker started after the spawn has ticked', () => {
    const records = [
      record('w5', SPAWNED_AT + 234, 'start', {
        scheduledAt: 65_000,
        fencingToken: 1,
        durationMs: 200,
        trigger: 'catch-up',
      }),
    ];
    expect(() => firstTickAfter(records, SPAWNED_AT)).toThrow(/no tick/);
  });
});

describe('occurrencesBetween', () => {
  it('lists the occurrences of a period between two times, both included', () => {
    expect(occurrencesBetween(1, 9_000, 3_000)).toEqual([3_000, 6_000, 9_000]);
    expect(occurrencesBetween(3_001, 5_999, 3_000)).toEqual([]);
  });

  it('refuses a bound that is not a finite time, instead of listing without end', () => {
    expect(() => occurrencesBetween(0, Number.POSITIVE_INFINITY, 3_000)).toThrow(RangeError);
    expect(() => occurrencesBetween(Number.NaN, 9_000, 3_000)).toThrow(RangeError);
    expect(() => occurrencesBetween(0, 9_000, 0)).toThrow(RangeError);
  });
});
