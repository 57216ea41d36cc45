import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

/*
 * `CronLockService.pausedJobs` (and so the `cron_lock_paused` gauge and the health check's
 * `pausedJobs`) is what this instance last learned of a pause, read without a round trip. What
 * it learned itself must not turn into a wrong answer: a pause it made with `until`, and a
 * forced trigger it ran, tell it nothing new about whether the job is paused.
 */

const JOB = 'paused-jobs-yearly';

@Injectable()
class YearlyJob {
  // Once a year: no scheduler tick refreshes what the instance knows during the test.
  @LockedCron('0 0 1 1 *', { ttl: '10s', name: JOB })
  async report(): Promise<void> {}
}

interface Backend {
  options(): CronLockModuleOptions;
  cleanup(): Promise<void>;
}

function memoryBackend(): Backend {
  const store = new MemoryLockStore();
  return { options: () => ({ store }), cleanup: () => store.close() };
}

function redisBackend(): Backend {
  const keyPrefix = uniquePrefix('paused-jobs');
  return { options: () => ({ redis: testRedisUrl(), keyPrefix }), cleanup: async () => undefined };
}

function postgresBackend(): Backend {
  const table = uniqueTable('paused_jobs');
  const pools: pg.Pool[] = [];
  return {
    options: () => {
      const pool = newPool({ max: 2 });
      pools.push(pool);
      return { store: new PostgresLockStore(pool, { table, logger: false }) };
    },
    cleanup: async () => {
      if (pools[0]) await dropTable(pools[0], table);
      await Promise.all(pools.map((pool) => pool.end()));
    },
  };
}

describe.each([
  ['memory', memoryBackend],
  ['Redis', redisBackend],
  ['PostgreSQL', postgresBackend],
])('pausedJobs with the %s store', (_label, makeBackend) => {
  let modules: TestingModule[] = [];
  let backend: Backend | undefined;

  afterEach(async () => {
    await Promise.all(modules.map((module) => module.close()));
    modules = [];
    await backend?.cleanup();
    backend = undefined;
  });

  async function boot(instanceId: string, withJob: boolean): Promise<CronLockService> {
    const module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ ...backend!.options(), instanceId, logger: false }),
      ],
      providers: withJob ? [YearlyJob] : [],
    }).compile();
    modules.push(module);
    await module.init();
    return module.get(CronLockService);
  }

  it('drops a pause this instance made with until once until has passed, with or without the job', async () => {
    backend = makeBackend();
    const worker = await boot('paused-jobs-worker', true);
    const admin = await boot('paused-jobs-admin', false);
    await worker.pause(JOB, { until: '1s' });
    await admin.pause('paused-jobs-elsewhere', { until: '1s' });
    expect(worker.pausedJobs).toEqual([JOB]);
    expect(admin.pausedJobs).toEqual(['paused-jobs-elsewhere']);

    // Both instances were told when the pauses end: no tick is needed to know they have.
    await waitFor(() => worker.pausedJobs.length === 0 && admin.pausedJobs.length === 0, {
      timeout: 5_000,
      message: 'the pauses to leave pausedJobs once their until passed',
    });
    expect((await worker.inspect(JOB)).paused).toBe(false);
    expect((await admin.inspect('paused-jobs-elsewhere')).paused).toBe(false);
  }, 30_000);

  it('keeps a paused job listed on the instance that ran a forced trigger of it', async () => {
    backend = makeBackend();
    const worker = await boot('paused-jobs-worker', true);
    const caller = await boot('paused-jobs-caller', false);
    await worker.pause(JOB, { reason: 'vendor outage' });
    expect(worker.pausedJobs).toEqual([JOB]);

    // The store took the lock because it was told to ignore the pause: that says nothing of it.
    const forced = await caller.trigger(JOB, { force: true, wait: true });

    expect(forced).toMatchObject({ ran: true, instanceId: 'paused-jobs-worker' });
    expect((await worker.inspect(JOB)).paused).toBe(true);
    expect(worker.pausedJobs).toEqual([JOB]);
    // Still paused: a trigger without force is refused, and the list stays as it was.
    expect(await caller.trigger(JOB)).toMatchObject({ ran: false, reason: 'paused' });
    expect(worker.pausedJobs).toEqual([JOB]);
  }, 30_000);
});
