import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, LockedCron, type LockContext } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { waitFor } from '../support/redis.js';
import {
  duplicateOccurrences,
  nonIncreasingFences,
  overlappingRuns,
  recordedRun,
  type RunRecord,
} from '../support/run-log.js';

/** Runs of the per-second job, from every app of the running test. */
const runs: RunRecord[] = [];

@Injectable()
class EverySecondJob {
  @LockedCron('* * * * * *', { ttl: '5s', name: 'pg-every-second' })
  async tick(ctx: LockContext): Promise<void> {
    runs.push(await recordedRun(ctx));
  }
}

describe('two Nest apps sharing one PostgreSQL (one process, separate pools)', () => {
  const modules: TestingModule[] = [];
  const pools: pg.Pool[] = [];
  let table = '';

  afterEach(async () => {
    await Promise.all(modules.splice(0).map((module) => module.close()));
    if (table) await dropTable(pools[0], table);
    await Promise.all(pools.splice(0).map((pool) => pool.end()));
    runs.length = 0;
  });

  async function boot(instanceId: string): Promise<void> {
    const pool = newPool({ max: 2 });
    pools.push(pool);
    const module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRootAsync({
          useFactory: () => ({
            store: new PostgresLockStore(pool, { table, logger: false }),
            instanceId,
            logger: false,
          }),
        }),
      ],
      providers: [EverySecondJob],
    }).compile();
    modules.push(module);
    await module.init();
  }

  it('runs each occurrence of a per-second @LockedCron job exactly once, with increasing fences', async () => {
    table = uniqueTable('e2e');
    await Promise.all(['pg-app-1', 'pg-app-2'].map(boot));
    const firstCounted = Math.ceil((Date.now() + 1) / 1_000) * 1_000;
    const counted = () => runs.filter((run) => run.scheduledAt >= firstCounted);
    await waitFor(() => new Set(counted().map((run) => run.scheduledAt)).size >= 4, {
      timeout: 20_000,
      message: 'four occurrences',
    });
    const lastCounted = Math.max(...counted().map((run) => run.scheduledAt));
    await Promise.all(modules.splice(0).map((module) => module.close()));

    for (let at = firstCounted; at <= lastCounted; at += 1_000) {
      expect(
        runs.filter((run) => run.scheduledAt === at),
        new Date(at).toISOString(),
      ).toHaveLength(1);
    }
    expect(duplicateOccurrences(runs)).toEqual([]);
    expect(nonIncreasingFences(runs)).toEqual([]);
    expect(overlappingRuns(runs)).toEqual([]);
  });
});
