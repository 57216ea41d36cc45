// `CronLockService.inspect()` without a name reads the state of every job the app bound and of
// the 1,000 names `run()` used last (an app that locks one entity at a time). On PostgreSQL each
// read holds one of the pool's connections: sent all at once, they fill the pool's queue, and the
// app's own locks wait behind the whole call for a connection (within `operationTimeout`, past
// which their runs are skipped). The reads must go a few at a time.
import { Injectable } from '@nestjs/common';
import { LockedCron } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CronLockService } from 'nestjs-cron-lock';
import { CronApps } from '../support/cron-apps.js';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { CountedReads } from '../support/counted-reads.js';

const TENANTS = 1_000;
/** A default `pg` pool's size. */
const POOL_SIZE = 10;

@Injectable()
class ReportJobs {
  // Never fires during the test.
  @LockedCron('0 0 1 1 *', { name: 'reports', ttl: '1m' })
  async reports(): Promise<void> {}
}

describe('inspect() on PostgreSQL after run() used 1,000 names, on a pool of 10', () => {
  const apps = new CronApps();
  const reads = new CountedReads();
  let pool: pg.Pool;
  let table: string;
  let locks: CronLockService;

  beforeAll(async () => {
    pool = newPool({ max: POOL_SIZE });
    table = uniqueTable('inspect_many');
    const store = new PostgresLockStore(pool, { table, logger: false });
    locks = await apps.boot({ store: reads.wrap(store), logger: false }, [ReportJobs]);
    for (let first = 0; first < TENANTS; first += POOL_SIZE) {
      await Promise.all(
        Array.from({ length: POOL_SIZE }, (_, i) =>
          locks.run(`sync:${first + i}`, { ttl: '1m' }, () => undefined),
        ),
      );
    }
  });

  afterAll(async () => {
    await apps.closeAll();
    await dropTable(pool, table);
    await pool.end();
  });

  it('reads every name once, a few at a time', async () => {
    reads.reset();
    const states = await locks.inspect();
    expect(states).toHaveLength(TENANTS + 1);
    expect(states.map((state) => state.name)).toContain('reports');
    expect(reads.calls).toBe(TENANTS + 1);
    expect(reads.maxInFlight).toBeLessThanOrEqual(4);
  });

  it("does not hold the app's own locks up until the whole call is read", async () => {
    reads.reset();
    const inspecting = locks.inspect();
    // Locks the app takes while the call reads: each must get a connection of its own, not
    // wait behind the call's reads queued on the pool.
    const readsBeforeEntering: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        locks.run(`checkout:${i}`, { ttl: '1m' }, () => {
          readsBeforeEntering.push(reads.answered);
        }),
      ),
    );
    expect(results.map((result) => result.ran)).toEqual([true, true, true, true, true]);
    expect((await inspecting).length).toBeGreaterThanOrEqual(TENANTS);
    // All at once, the pool lends connections in turn: each lock got one only after the 1,001
    // reads queued before it had theirs, so nearly all were answered first. A few at a time, it
    // waits for its own round trip (and at most a new connection to open) while they go on.
    expect(readsBeforeEntering).toHaveLength(5);
    for (const answered of readsBeforeEntering) {
      expect(answered).toBeLessThan(TENANTS / 2);
    }
  });
});
