import { describe, expect, it } from 'vitest';
import { SWEEP_INTERVAL_MS, SweepSchedule } from '../../lib/stores/postgres/sweep-schedule.js';

describe('SweepSchedule (PostgreSQL release sweeps)', () => {
  it('sweeps on the first release, then once per interval, and at once again when asked', () => {
    const schedule = new SweepSchedule();
    expect(schedule.take(10_000)).toBe(true);
    expect(schedule.take(10_001)).toBe(false);
    expect(schedule.take(10_000 + SWEEP_INTERVAL_MS - 1)).toBe(false);
    expect(schedule.take(10_000 + SWEEP_INTERVAL_MS)).toBe(true);
    // A full batch (or a failed release) makes the very next release sweep.
    schedule.again();
    expect(schedule.take(10_000 + SWEEP_INTERVAL_MS + 1)).toBe(true);
    expect(schedule.take(10_000 + SWEEP_INTERVAL_MS + 2)).toBe(false);
  });
});
