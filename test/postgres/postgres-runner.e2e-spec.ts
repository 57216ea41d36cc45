// CronLockService.run() on PostgresLockStore when the database is slow or the pool is full:
// the same skip/run policy as with Redis, and nothing stranded. When the database refuses the
// store's statements for good (a missing privilege, table or column), the release sent after
// each refused acquisition is refused too, and is not sent again.
import { Test, type TestingModule } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CronLockModule, CronLockService, type StoreErrorPolicy } from 'nestjs-cron-lock';
import {
  createTableSql,
  lockTable,
  PostgresLockStore,
  type PostgresLockStoreOptions,
} from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { CapturingLogger } from '../support/capturing-logger.js';
import {
  dropTable,
  newPool,
  retryOutOfTime,
  testPostgresUrl,
  uniqueTable,
} from '../support/postgres.js';
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

  /**
   * Runs `name` (at `scheduledAt`) until a run goes through, within a deadline: the first run
   * before a fault, or the one that shows runs resume after it. Under a short `operationTimeout`
   * a loaded machine can exceed the bound on any one acquisition (a new connection, the table's first statement): that run
   * is skipped as a store error, and its statement may still have taken the lock (freed by the
   * release the runner sends after it) or claimed the occurrence on the server. So `held` and
   * `tick-done` pass only after such a store error; any other outcome fails at once.
   */
  async function runsAgain(
    locks: CronLockService,
    name: string,
    scheduledAt?: number,
  ): Promise<void> {
    const deadline = Date.now() + 20_000;
    let outOfTime = false;
    for (;;) {
      const options = scheduledAt === undefined ? { ttl: MINUTE } : { scheduledAt, ttl: MINUTE };
      const result = await locks.run(name, options, () => 'ran');
      if (result.ran) return;
      if (outOfTime && result.reason === 'tick-done') return;
      expect(result.reason).toMatch(outOfTime ? /^(store-error|held)$/ : /^store-error$/);
      outOfTime ||= result.reason === 'store-error';
      expect(Date.now(), `a run of ${name} through the store`).toBeLessThan(deadline);
      // Polled: a lock a lost answer took is freed by a release sent in the background.
      await sleep(50);
    }
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
    await runsAgain(locks, 'job');

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
    await runsAgain(locks, 'job');
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
      await retryOutOfTime(() => store.ping());
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
      await runsAgain(locks, 'job');
    },
  );

  it('sends nothing more for acquisitions that got no pooled connection, so a burst that outgrew the pool does not keep it full', async () => {
    const { pool, table } = setup('unsent', 1);
    const store = new PostgresLockStore(pool, { table, operationTimeout: 300, logger: false });
    const locks = await boot(store);
    await retryOutOfTime(() => store.ping());
    const held = await pool.connect();
    const sent = countStatements(pool);
    const burst = ['burst-1', 'burst-2', 'burst-3'];
    const scheduledAt = Date.now() - (Date.now() % MINUTE);
    const results = await Promise.all(
      burst.map((name) => locks.run(name, { scheduledAt, ttl: MINUTE }, () => 'ran')),
    );
    expect(results).toEqual(burst.map(() => ({ ran: false, reason: 'store-error' })));
    held.release();

    // Their statements never left this instance, so they took no lock: a release of each would
    // only wait for the same pool (and, failing there, be sent again every 250 ms to 2 s). What
    // was queued on the pool goes first, so once this run is through, nothing about the burst is.
    await runsAgain(locks, 'after');
    expect(sent.jobs.filter((job) => burst.includes(job))).toEqual([]);
    expect(sent.jobs).toContain('after');
    for (const name of burst) {
      await runsAgain(locks, name, scheduledAt);
    }
  });
});

describe('the release of an acquisition PostgreSQL refused', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) {
      await undo().catch(() => undefined);
    }
  });

  /** How the database comes to refuse the store's statements, and what the refusal says. */
  interface Refusal {
    /** The pool (and store options) the store gets, before the app starts. */
    prepare(
      admin: pg.Pool,
      table: string,
    ): Promise<{ pool: pg.Pool; options?: PostgresLockStoreOptions }>;
    /** Breaks the table once a run went through (the store then knows the table is there). */
    breakTable?(admin: pg.Pool, table: string): Promise<unknown>;
    /** Part of each acquisition's store-error line. */
    says: string;
  }

  /** A role that may log in, dropped after the test, and a pool on the test database as it. */
  async function poolAsRole(admin: pg.Pool, role: string, grants: string): Promise<pg.Pool> {
    cleanup.push(() => admin.query(`DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`));
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'refused-pw-1'`);
    await admin.query(grants);
    const url = new URL(testPostgresUrl());
    url.username = role;
    url.password = 'refused-pw-1';
    const pool = newPool({ connectionString: url.toString() });
    cleanup.push(() => pool.end());
    return pool;
  }

  function adminPool(): pg.Pool {
    const pool = newPool();
    cleanup.push(() => pool.end());
    return pool;
  }

  const refusals: Array<[string, Refusal]> = [
    [
      'a role without UPDATE and DELETE on the table, SQLSTATE 42501',
      {
        prepare: async (admin, table) => {
          await admin.query(createTableSql(lockTable('public', table)));
          const role = `r_${table}`;
          const pool = await poolAsRole(
            admin,
            role,
            `GRANT USAGE ON SCHEMA public TO ${role};
             GRANT SELECT, INSERT ON public.${table}, public.${table}_history TO ${role}`,
          );
          return { pool };
        },
        says: 'SQLSTATE 42501',
      },
    ],
    [
      'the table dropped while the app runs, SQLSTATE 42P01',
      {
        prepare: async () => ({ pool: adminPool() }),
        breakTable: (admin, table) => dropTable(admin, table),
        says: 'SQLSTATE 42P01',
      },
    ],
    [
      'a column dropped while the app runs, SQLSTATE 42703',
      {
        prepare: async () => ({ pool: adminPool() }),
        breakTable: (admin, table) => admin.query(`ALTER TABLE public.${table} DROP COLUMN token`),
        says: 'SQLSTATE 42703',
      },
    ],
    [
      'no table and createTable: false',
      {
        prepare: async () => ({ pool: adminPool(), options: { createTable: false } }),
        says: 'does not exist and createTable is false',
      },
    ],
    [
      'no table and a role that may not create it',
      {
        prepare: async (admin, table) => {
          const schema = `s_${table}`;
          const role = `r_${table}`;
          cleanup.push(() => admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
          await admin.query(`CREATE SCHEMA ${schema}`);
          const pool = await poolAsRole(admin, role, `GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
          return { pool, options: { schema } };
        },
        says: 'cannot create lock table',
      },
    ],
  ];

  it.each(refusals)(
    'is sent once when the database refuses it too (%s), not again every 2 s',
    async (_, refusal) => {
      const admin = adminPool();
      const table = uniqueTable('refused');
      cleanup.push(() => dropTable(admin, table));
      const { pool, options } = await refusal.prepare(admin, table);
      const store = new PostgresLockStore(pool, { ...options, table, logger: false });
      const logger = new CapturingLogger();
      const module = await Test.createTestingModule({
        imports: [CronLockModule.forRoot({ store, logger })],
      }).compile();
      cleanup.push(() => module.close());
      await module.init();
      const locks = module.get(CronLockService);
      if (refusal.breakTable) {
        expect((await locks.run('job', { ttl: MINUTE }, () => 'before')).ran).toBe(true);
        await refusal.breakTable(admin, table);
      }

      // From here: every statement sent on the store's pool, and every release the module asks
      // the store for (and how many it answered, refused or not).
      const statements = countStatements(pool);
      const release = store.release.bind(store);
      let releases = 0;
      let releasesAnswered = 0;
      store.release = (request) => {
        releases++;
        return release(request).finally(() => releasesAnswered++);
      };
      for (let i = 0; i < 3; i++) {
        expect(await locks.run('job', { ttl: MINUTE }, () => 'never')).toEqual({
          ran: false,
          reason: 'store-error',
        });
      }
      await waitFor(() => releasesAnswered >= 3, {
        message: 'the release sent after each refused acquisition answered',
      });
      const sent = statements.count;
      // A refusal is the database's answer: the acquisition took nothing, so nothing is left to
      // free. Before, each release was sent again 250 ms later, then every 0.5, 1 and 2 s, for as
      // long as the app ran. A bounded wait: long enough for two of those rounds.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(releases).toBe(3);
      expect(statements.count).toBe(sent);
      // The refusal itself is still reported, once per acquisition, with what to fix.
      const reported = logger.lines.filter(
        (line) =>
          line.message.includes('lock store error on acquire') &&
          line.message.includes(refusal.says),
      );
      expect(reported).toHaveLength(3);
    },
    30_000,
  );
});

/**
 * Counts the statements sent on `pool`'s connections from now on, and keeps the job each one
 * names (the store's statements take the job's name first).
 */
function countStatements(pool: pg.Pool): { readonly count: number; readonly jobs: string[] } {
  const counter = { count: 0, jobs: [] as string[] };
  const counted = new WeakSet<pg.PoolClient>();
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  pool.connect = (async () => {
    const client = await connect();
    if (!counted.has(client)) {
      counted.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      client.query = ((...args: unknown[]) => {
        counter.count++;
        const values = (args[0] as { values?: unknown[] } | undefined)?.values;
        if (typeof values?.[0] === 'string') counter.jobs.push(values[0]);
        return query(...args);
      }) as typeof client.query;
    }
    return client;
  }) as typeof pool.connect;
  return counter;
}
