// The fault suite's workers (test/faults/fixtures/worker.ts) locking in PostgreSQL: separate
// processes, a holder killed with SIGKILL, a database restart with runs in flight.
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  alwaysViolations,
  collectRuns,
  duplicateOccurrences,
  fencingOrder,
  liveness,
  overlaps,
} from '../faults/support/oracles.js';
import { baseSeed } from '../faults/support/prng.js';
import { FAULT_JOB, monoNow } from '../faults/support/records.js';
import {
  expectHolds,
  faultScenarios,
  hold,
  LOAD_MARGIN_MS,
  SCENARIO_TIMEOUT_MS,
} from '../faults/support/scenario.js';
import { startPostgresServer } from '../support/postgres-server.js';
import { testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { testRedisUrl } from '../support/redis.js';

const SEED = baseSeed();
/** The workers' cron: every second. */
const PERIOD_MS = 1_000;
const LONG_JOB_MS = 6_000;
/** The store's operationTimeout, which bounds every statement during an outage. */
const OPERATION_TIMEOUT_MS = 2_000;

describe(`PostgreSQL process faults (FAULT_SEED=${SEED})`, { timeout: SCENARIO_TIMEOUT_MS }, () => {
  const scenarios = faultScenarios(SEED);

  function workersOn(
    s: ReturnType<typeof scenarios.begin>,
    databaseUrl: string,
    options: { ttlMs: number; jobMs: number; jobJitterMs?: number },
  ): string {
    const table = uniqueTable('faults');
    s.defer(async () => {
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      await admin.query(`DROP TABLE IF EXISTS public.${table}`).finally(() => admin.end());
    });
    s.spawnWorkers(3, {
      // Unused: the workers lock in PostgreSQL.
      redisUrl: testRedisUrl(),
      ...options,
      env: { FAULT_DATABASE_URL: databaseUrl, FAULT_PG_TABLE: table },
    });
    return table;
  }

  it('lets nobody run until a SIGKILLed holder’s lock expires, then runs the next occurrence elsewhere', async () => {
    const s = scenarios.begin('pg-sigkill');
    const ttlMs = s.random.int(2_000, 3_000);
    const table = workersOn(s, testPostgresUrl(), { ttlMs, jobMs: 5_000, jobJitterMs: 1_000 });
    await s.cluster.ready();

    const first = await s.cluster.waitForRecord('start', (r) => r.mono > monoNow() - 300, {
      timeout: LONG_JOB_MS + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'a run that has just begun',
    });
    await hold(s.random.int(300, 1_500));
    const victim = s.cluster.worker(first.instance);
    victim.kill();
    await victim.exited;
    const askedAt = monoNow();
    const reader = new PostgresLockStore(testPostgresUrl(), { table, logger: false });
    s.defer(() => reader.close());
    const state = await reader.inspect(FAULT_JOB);
    expect(state.holder, 'the dead holder still holds the lock').toBe(victim.instance);
    expect(state.ttlLeft).toBeGreaterThan(0);
    expect(state.ttlLeft).toBeLessThanOrEqual(ttlMs);
    const expiresNoSoonerThan = askedAt + (state.ttlLeft ?? 0);

    const next = await s.cluster.waitForRecord('start', (r) => r.mono > victim.killedAt!, {
      timeout: ttlMs + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'the next run after the kill',
    });
    expect(next.instance).not.toBe(victim.instance);
    // The database's clock and ours tick at the same rate; allow for the round trip.
    expect(next.mono, 'nobody ran before the dead holder’s lock expired').toBeGreaterThanOrEqual(
      expiresNoSoonerThan - 50,
    );
    expect(next.fencingToken).toBeGreaterThan(first.fencingToken);

    const records = s.cluster.records();
    const runs = collectRuns(records, s.cluster.workers);
    expectHolds({
      ...alwaysViolations(records, runs),
      'overlapping runs': overlaps(runs),
      liveness: liveness(
        runs,
        expiresNoSoonerThan,
        PERIOD_MS + LOAD_MARGIN_MS,
        'the dead holder’s lock expired',
      ),
    });
    // At most once: the killed run's occurrence never ran again.
    expect(runs.filter((run) => run.scheduledAt === first.scheduledAt)).toHaveLength(1);
  });

  it('survives a database restart with runs in flight: no crash, no occurrence twice, ticks resume', async () => {
    const s = scenarios.begin('pg-restart');
    const server = await startPostgresServer();
    s.defer(() => server.stop());
    workersOn(s, server.url, { ttlMs: 3_000, jobMs: 1_500, jobJitterMs: 500 });
    await s.cluster.ready();
    await s.cluster.waitForRecord('start', (r) => r.mono > monoNow() - 300, {
      timeout: LONG_JOB_MS + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'a run in flight',
    });

    await server.restart(s.random.int(0, 1) === 0 ? 'fast' : 'immediate');
    const backAt = monoNow();
    await s.cluster.waitForRecord('start', (r) => r.mono > backAt, {
      timeout: 3_000 + OPERATION_TIMEOUT_MS + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'a run after the restart',
    });
    await s.cluster.waitForRecord('start', (r) => r.mono > backAt + PERIOD_MS, {
      timeout: 3_000 + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'a second run after the restart',
    });

    const records = s.cluster.records();
    const runs = collectRuns(records, s.cluster.workers);
    expectHolds({
      ...alwaysViolations(records, runs),
      'occurrences run twice': duplicateOccurrences(runs),
      'fencing tokens out of order': fencingOrder(runs),
    });
  });
});
