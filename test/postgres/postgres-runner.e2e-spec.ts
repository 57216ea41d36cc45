// CronLockService.run() on PostgresLockStore when the database is slow or the pool is full:
// the same skip/run policy as with Redis, and nothing stranded.
import { Test, type TestingModule } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { CronLockModule, CronLockService, type StoreErrorPolicy } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { waitFor } from '../support/redis.js';

const MINUTE = 60_000;

describe('run() on PostgresLockStore under database trouble', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) {
      await undo().catch(() => undefined);
    }
  });

  async function boot(
    store: PostgresLockStore,
    onStoreError: StoreErrorPolicy = 'skip',
  ): Promise<CronLockService> {
    const module: TestingModule = await Test.createTestingModule({
      imports: [CronLockModule.forRoot({ store, onStoreError, logger: false })],
    }).compile();
    cleanup.push(() => module.close());
    await module.init();
    return module.get(CronLockService);
  }

  function setup(label: string, max = 5): { admin: pg.Pool; pool: pg.Pool; table: string } {
    const admin = newPool();
    const pool = newPool({ max });
    const table = uniqueTable(label);
    cleanup.push(() => admin.end());
    cleanup.push(() => pool.end());
    cleanup.push(() => dropTable(admin, table));
    return { admin, pool, table };
  }

  it('skips a run whose acquire got no answer in time, and leaves no lock behind once the row is free', async () => {
    const { admin, pool, table } = setup('lostreply');
    const store = new PostgresLockStore(pool, { table, operationTimeout: 500, logger: false });
    const locks = await boot(store);
    expect((await locks.run('job', { ttl: MINUTE }, async () => 'first')).ran).toBe(true);

    // Another session keeps the job's row locked: the acquire waits on the server, past the
    // store's operationTimeout, and its reply is never read.
    const blocker = await admin.connect();
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM public.${table} WHERE name = 'job' FOR UPDATE`);
    let ran = false;
    const result = await locks.run('job', { ttl: MINUTE }, async () => {
      ran = true;
    });
    expect(result).toMatchObject({ ran: false, reason: 'store-error' });
    expect(ran).toBe(false);
    await blocker.query('ROLLBACK');
    blocker.release();

    // The unanswered acquire was stopped on the server (or, had it run, the release the runner
    // sends after it freed that lock): no lock sits there with nobody running under it until its
    // ttl.
    await waitFor(async () => (await store.inspect('job')).ttlLeft === null, {
      timeout: 10_000,
      message: 'no lock left by the unanswered acquire',
    });
    expect((await locks.run('job', { ttl: MINUTE }, async () => 'next')).ran).toBe(true);
  });

  it.each([
    ['skip', false],
    ['run', true],
  ] as const)(
    "with onStoreError '%s' and the pool exhausted by the app, ran is %s, and runs resume once a connection is free",
    async (policy, runs) => {
      const { pool, table } = setup(`pool_${policy}`, 1);
      const store = new PostgresLockStore(pool, { table, operationTimeout: 300, logger: false });
      const locks = await boot(store, policy);
      await store.ping();
      const held = await pool.connect();
      let ran = false;
      const result = await locks.run(
        `job-${randomBytes(2).toString('hex')}`,
        { ttl: MINUTE },
        async () => {
          ran = true;
        },
      );
      held.release();
      expect(result.ran).toBe(runs);
      expect(ran).toBe(runs);
      if (!result.ran) expect(result.reason).toBe('store-error');
      expect((await locks.run('job', { ttl: MINUTE }, async () => 'ok')).ran).toBe(true);
    },
  );
});
