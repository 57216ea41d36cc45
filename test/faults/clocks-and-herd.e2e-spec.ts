// Fault injection across real processes: skewed wall clocks (libfaketime) and a thundering herd.
// Each worker is a forked Nest app (fixtures/worker.ts) recording every run to a file sink; the
// oracles in support/oracles.ts check the records afterwards.
import { describe, expect, it } from 'vitest';
import { testRedisUrl, waitFor } from '../support/redis.js';
import {
  alwaysViolations,
  collectRuns,
  exactlyOnce,
  expiryViolations,
  occurrencesBetween,
  overlaps,
} from './support/oracles.js';
import { BOOT_TIMEOUT_MS } from './support/cluster.js';
import { faketimeEnv } from './support/faketime.js';
import { baseSeed } from './support/prng.js';
import {
  expectHolds,
  faultScenarios,
  LOAD_MARGIN_MS,
  SCENARIO_TIMEOUT_MS,
  wallOffset,
} from './support/scenario.js';

const SEED = baseSeed();

// Each scenario waits for one boot of its workers, then runs.
const TIMEOUT_MS = BOOT_TIMEOUT_MS + SCENARIO_TIMEOUT_MS;

describe(`clock and herd faults (FAULT_SEED=${SEED})`, { timeout: TIMEOUT_MS }, () => {
  const scenarios = faultScenarios(SEED);

  it('runs each occurrence exactly once across four workers whose clocks differ by ±1.5 s', async () => {
    const s = scenarios.begin('clock-skew');
    // Instances agree on an occurrence only while their clocks differ by less than half the
    // period (guarantee 1): ±1.5 s needs a period of at least 3 s, so this job fires every 4 s
    // rather than every second.
    const periodMs = 4_000;
    const shifts = s.random.shuffle([1.5, -1.5, 0, 0]);
    const sampler = s.sampleExpiries(testRedisUrl());
    // A short job (a few hundred ms): the late worker ticks 1.5 s after the early one finished,
    // so only the occurrence marker, not the lock, can stop it from running the occurrence again.
    s.spawnWorkers(
      4,
      {
        redisUrl: testRedisUrl(),
        cron: '*/4 * * * * *',
        ttlMs: 3_000,
        jobMs: 200,
        jobJitterMs: 300,
      },
      (i) => ({ env: shifts[i - 1] === 0 ? {} : faketimeEnv(shifts[i - 1]) }),
    );
    await s.cluster.ready(BOOT_TIMEOUT_MS);
    const readyWall = Date.now();

    // libfaketime really shifted the wall clocks (and only those): compare each worker's
    // wall-minus-monotonic offset with ours.
    const offset = wallOffset();
    for (const ready of s.cluster.recordsOf('ready')) {
      const shift = shifts[Number(ready.instance.slice(1)) - 1];
      const measured = ready.wall - ready.mono - offset;
      expect(
        Math.abs(measured - shift * 1_000),
        `${ready.instance}'s clock shift (${measured} ms)`,
      ).toBeLessThan(250);
    }

    // Warm-up: occurrences whose earliest tick (1.5 s early) came after every worker was up.
    const expected = occurrencesBetween(
      readyWall + 2_000,
      readyWall + 2_000 + 3 * periodMs,
      periodMs,
    );
    const lastExpected = expected[expected.length - 1];
    // The latest tick of an occurrence comes 1.5 s after it (the slow clock); leave room after that.
    await waitFor(() => Date.now() > lastExpected + 1_500 + 1_000, {
      timeout: lastExpected + 1_500 + 1_000 - Date.now() + LOAD_MARGIN_MS,
      interval: 100,
      message: 'the last expected occurrence to be over everywhere',
    });
    await waitFor(
      () => s.cluster.recordsOf('start').filter((r) => r.scheduledAt === lastExpected).length > 0,
      { timeout: LOAD_MARGIN_MS, message: 'the last expected occurrence to run' },
    );

    const report = await sampler.stop();
    const records = s.cluster.records();
    const runs = collectRuns(records, s.cluster.workers);
    expect(expected.length).toBeGreaterThanOrEqual(3);
    // Every worker competed for every expected occurrence: one ran it, the others were turned away.
    for (const at of expected) {
      const contenders = new Set(
        records
          .filter((r) => (r.type === 'start' || r.type === 'skipped') && r.scheduledAt === at)
          .map((r) => r.instance),
      );
      expect(
        [...contenders].sort(),
        `workers that ticked for ${new Date(at).toISOString()}`,
      ).toEqual(['w1', 'w2', 'w3', 'w4']);
    }
    expectHolds({
      ...alwaysViolations(records, runs),
      'expected occurrences not run exactly once': exactlyOnce(runs, expected),
      'runs of occurrences off the schedule': runs
        .filter((run) => run.scheduledAt % periodMs !== 0)
        .map((run) => `${run.instance} ran ${new Date(run.scheduledAt).toISOString()}`),
      'overlapping runs': overlaps(runs),
      'keys without an expiry': expiryViolations(report),
    });
  });

  // Sixteen Node processes boot in about 20 s on two idle cores; a loaded machine takes minutes.
  it(
    'runs one occurrence exactly once when sixteen workers contend for it',
    { timeout: TIMEOUT_MS },
    async () => {
      const s = scenarios.begin('herd');
      const periodMs = 5_000;
      const workers = 16;
      const sampler = s.sampleExpiries(testRedisUrl());
      // Sixteen Node processes on two cores: a slow cron (every 5 s) leaves room for them all.
      s.spawnWorkers(workers, {
        redisUrl: testRedisUrl(),
        cron: '*/5 * * * * *',
        ttlMs: 3_000,
        jobMs: 300,
        jobJitterMs: 300,
      });
      await s.cluster.ready(BOOT_TIMEOUT_MS);
      const readyWall = Date.now();
      // The first occurrence at least 1 s after every worker is up.
      const expected = occurrencesBetween(
        readyWall + 1_000,
        readyWall + 1_000 + periodMs - 1,
        periodMs,
      );
      const lastExpected = expected[expected.length - 1];
      const ticked = (at: number): number =>
        new Set(
          s.cluster
            .records()
            .filter((r) => (r.type === 'start' || r.type === 'skipped') && r.scheduledAt === at)
            .map((r) => r.instance),
        ).size;
      await waitFor(() => Date.now() > lastExpected && ticked(lastExpected) === workers, {
        timeout: lastExpected - Date.now() + LOAD_MARGIN_MS * 2,
        interval: 100,
        message: `all ${workers} workers to tick for the last expected occurrence`,
      });
      await waitFor(
        () => s.cluster.recordsOf('released').some((r) => r.scheduledAt === lastExpected),
        {
          timeout: 1_000 + LOAD_MARGIN_MS,
          message: 'the run of the last expected occurrence to end',
        },
      );

      const report = await sampler.stop();
      const records = s.cluster.records();
      const runs = collectRuns(records, s.cluster.workers);
      expect(expected).toHaveLength(1);
      for (const at of expected) {
        expect(ticked(at), `workers that ticked for ${new Date(at).toISOString()}`).toBe(workers);
      }
      expectHolds({
        ...alwaysViolations(records, runs),
        'expected occurrences not run exactly once': exactlyOnce(runs, expected),
        'overlapping runs': overlaps(runs),
        'keys without an expiry': expiryViolations(report, 1),
      });
    },
  );
});
