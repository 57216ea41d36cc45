import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CronLockModule,
  LockedCron,
  LockStoreError,
  type AcquireRequest,
  type LockContext,
  type TriggerMessage,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli/cli-process.js';
import { newToken } from '../contract/lock-store.contract.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { startPgBouncer, type PgBouncerHandle } from '../support/pgbouncer.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { TEST_POSTGRES_PASSWORD } from '../support/postgres-server.js';
import { waitFor } from '../support/redis.js';
import {
  duplicateOccurrences,
  nonIncreasingFences,
  overlappingRuns,
  recordedRun,
  type RunRecord,
} from '../support/run-log.js';

/**
 * The store behind a real PgBouncer in transaction mode, with fewer server connections than the
 * clients' pools hold: each statement runs on whichever server connection is free, so anything
 * the store kept in a session (an advisory lock, a named prepared statement) would be lost.
 * PgBouncer before 1.21 does not keep named prepared statements: the store's fallback to unnamed
 * statements is what makes the default settings work here.
 */
let bouncer: PgBouncerHandle;

beforeAll(async () => {
  bouncer = await startPgBouncer(testPostgresUrl(), { poolMode: 'transaction', poolSize: 2 });
}, 30_000);

afterAll(async () => {
  await bouncer?.stop();
});

/** A pool of several client connections through PgBouncer. */
function bouncerPool(max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: bouncer.url, max });
  pool.on('error', () => undefined);
  return pool;
}

/** Tables are dropped on a direct connection, so cleanup does not depend on the pooler. */
async function dropDirect(table: string): Promise<void> {
  const direct = newPool({ max: 1 });
  try {
    await dropTable(direct, table);
  } finally {
    await direct.end();
  }
}

for (const preparedStatements of [true, false]) {
  describe(`the store's key answers behind PgBouncer (preparedStatements: ${preparedStatements})`, () => {
    let pool: pg.Pool;
    let table: string;
    let subject: PostgresLockStore;
    const occurrence = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const acquire = (token: string, overrides: Partial<AcquireRequest> = {}) =>
      subject.acquire({ name: 'job', token, ttl: 60_000, instanceId: 'bouncer-a', ...overrides });

    beforeEach(() => {
      pool = bouncerPool();
      table = uniqueTable('bouncer_key');
      subject = new PostgresLockStore(pool, { table, preparedStatements, logger: false });
    });

    afterEach(async () => {
      await subject.close();
      await pool.end();
      await dropDirect(table);
    });

    it('acquires, answers held to another owner, renews and releases for the owner only', async () => {
      const owner = newToken();
      const other = newToken();
      const first = await acquire(owner);
      expect(first.acquired).toBe(true);
      expect(await acquire(other, { instanceId: 'bouncer-b' })).toMatchObject({
        acquired: false,
        reason: 'held',
      });
      expect(await subject.renew({ name: 'job', token: other, ttl: 60_000 })).toEqual({
        renewed: false,
        reason: 'taken',
      });
      expect(await subject.renew({ name: 'job', token: owner, ttl: 60_000 })).toEqual({
        renewed: true,
      });
      const state = await subject.inspect('job');
      expect(state.holder).toBe('bouncer-a');
      expect(await subject.release({ name: 'job', token: other })).toBe(false);
      expect(await subject.release({ name: 'job', token: owner })).toBe(true);
      expect((await subject.inspect('job')).holder).toBeNull();
      expect(await subject.renew({ name: 'job', token: owner, ttl: 60_000 })).toEqual({
        renewed: false,
        reason: 'expired',
      });
    });

    it('claims an occurrence once: tick-done for it afterwards, also once released', async () => {
      const owner = newToken();
      expect((await acquire(owner, { scheduledAt: occurrence })).acquired).toBe(true);
      expect(
        await acquire(newToken(), { scheduledAt: occurrence, instanceId: 'bouncer-b' }),
      ).toMatchObject({ acquired: false });
      expect(await subject.release({ name: 'job', token: owner })).toBe(true);
      expect(
        await acquire(newToken(), { scheduledAt: occurrence, instanceId: 'bouncer-b' }),
      ).toMatchObject({ acquired: false, reason: 'tick-done' });
      expect((await subject.inspect('job')).lastTick).toBe(occurrence);
    });

    it('gives strictly increasing fencing tokens, also after an expiry', async () => {
      const fences: number[] = [];
      for (let i = 0; i < 5; i++) {
        const token = newToken();
        const result = await acquire(token);
        expect(result.acquired).toBe(true);
        if (result.acquired) fences.push(result.fencingToken);
        expect(await subject.release({ name: 'job', token })).toBe(true);
      }
      const expiring = await acquire(newToken(), { ttl: 150 });
      expect(expiring.acquired).toBe(true);
      if (expiring.acquired) fences.push(expiring.fencingToken);
      const taken = await waitFor(
        async () => {
          const result = await acquire(newToken(), { instanceId: 'bouncer-b' });
          return result.acquired ? result : undefined;
        },
        { timeout: 10_000, interval: 25, message: 'the expired lock to be taken over' },
      );
      for (let i = 1; i < fences.length; i++) expect(fences[i]).toBeGreaterThan(fences[i - 1]);
      expect(taken.fencingToken).toBeGreaterThan(fences[fences.length - 1]);
    });

    it('takes and frees plain locks owner-checked, their tokens increasing with recorded ones', async () => {
      const fences: number[] = [];
      for (const plain of [true, true, false, true, false, true]) {
        const owner = newToken();
        const result = await acquire(owner, plain ? { plain: true } : {});
        if (!result.acquired) throw new Error(`acquisition refused: ${result.reason}`);
        fences.push(result.fencingToken);
        expect(await acquire(newToken(), { plain: true, instanceId: 'bouncer-b' })).toEqual({
          acquired: false,
          reason: 'held',
        });
        expect(await subject.release({ name: 'job', token: newToken(), plain })).toBe(false);
        expect(await subject.release({ name: 'job', token: owner, plain })).toBe(true);
      }
      for (let i = 1; i < fences.length; i++) expect(fences[i]).toBeGreaterThan(fences[i - 1]);
    });
  });
}

describe('PgBouncer in transaction mode', () => {
  const pools: pg.Pool[] = [];
  const stores: PostgresLockStore[] = [];
  const tables: string[] = [];

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await Promise.all(pools.splice(0).map((pool) => pool.end()));
    for (const table of tables.splice(0)) await dropDirect(table);
  });

  function store(options: { preparedStatements?: boolean; logger?: CapturingLogger } = {}) {
    const pool = bouncerPool();
    pools.push(pool);
    const table = tables[0] ?? uniqueTable('bouncer');
    if (tables.length === 0) tables.push(table);
    const created = new PostgresLockStore(pool, {
      table,
      // Left out unless given: a key present but undefined is refused, not taken as the default.
      ...(options.preparedStatements === undefined
        ? {}
        : { preparedStatements: options.preparedStatements }),
      logger: options.logger ?? false,
    });
    stores.push(created);
    return created;
  }

  it('does not keep named prepared statements (why the store falls back)', async () => {
    const pool = bouncerPool();
    pools.push(pool);
    const named = (i: number) =>
      pool.query({ name: 'bouncer_probe', text: 'SELECT $1::int AS n', values: [i] });
    const errors: unknown[] = [];
    await waitFor(
      async () => {
        const settled = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => named(i)));
        for (const result of settled) {
          if (result.status === 'rejected') errors.push(result.reason);
        }
        return errors.length > 0;
      },
      { timeout: 10_000, interval: 1, message: 'a named statement to fail behind PgBouncer' },
    );
    for (const error of errors) {
      expect(['26000', '42P05']).toContain((error as { code?: string }).code);
    }
  });

  it('falls back to unnamed statements on the first failure: one warning, no secret, operations resent', async () => {
    const logger = new CapturingLogger();
    const subject = store({ logger });
    const warnings = () =>
      logger.lines.filter((line) => line.level === 'warn').map((line) => line.message);
    let round = 0;
    const runRound = async () => {
      round += 1;
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          subject.acquire({
            name: `job-${round}-${i}`,
            token: newToken(),
            ttl: 60_000,
            instanceId: 'bouncer-a',
          }),
        ),
      );
      // Every acquire answered: the one refused at Parse/Bind was sent again, unnamed.
      expect(results.every((result) => result.acquired)).toBe(true);
    };
    await waitFor(
      async () => {
        await runRound();
        return warnings().length > 0;
      },
      { timeout: 15_000, interval: 1, message: 'the fallback warning' },
    );
    for (let i = 0; i < 10; i++) await runRound();
    const renewed = await subject.renew({ name: 'job-1-0', token: newToken(), ttl: 60_000 });
    expect(renewed).toEqual({ renewed: false, reason: 'taken' });

    expect(warnings()).toHaveLength(1);
    const [warning] = warnings();
    expect(warning).toMatch(/prepared statement/);
    expect(warning).toMatch(/preparedStatements: false/);
    expect(warning).not.toContain(TEST_POSTGRES_PASSWORD);
    expect(warning).not.toContain(new URL(testPostgresUrl()).password || '\u0000');
    expect(warning).not.toContain(bouncer.url);
    expect(warning).not.toMatch(/postgres(ql)?:\/\//);
    expect(logger.errors()).toEqual([]);
  });

  it('preparedStatements: false never warns', async () => {
    const logger = new CapturingLogger();
    const subject = store({ preparedStatements: false, logger });
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          subject.acquire({
            name: `job-${round}-${i}`,
            token: newToken(),
            ttl: 60_000,
            instanceId: 'bouncer-a',
          }),
        ),
      );
      expect(results.every((result) => result.acquired)).toBe(true);
    }
    expect(logger.lines.filter((line) => line.level !== 'log')).toEqual([]);
  });

  it('stops on the server an operation that gave up waiting for a locked row, through the pooler, which keeps running', async () => {
    const subject = store({ preparedStatements: false });
    const table = tables[0]!;
    const token = newToken();
    await subject.acquire({ name: 'job', token, ttl: 60_000, instanceId: 'bouncer-a' });
    const direct = newPool({ max: 2 });
    pools.push(direct);
    const blocker = await direct.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM public.${table} WHERE name = 'job' FOR UPDATE`);
      const impatientPool = bouncerPool();
      pools.push(impatientPool);
      const impatient = new PostgresLockStore(impatientPool, {
        table,
        operationTimeout: 300,
        logger: false,
      });
      stores.push(impatient);
      // As many as PgBouncer has server connections: each would keep one while it waits.
      for (let i = 0; i < 2; i++) {
        const started = performance.now();
        await expect(impatient.renew({ name: 'job', token, ttl: 60_000 })).rejects.toThrow(
          /no answer from PostgreSQL within 300ms/,
        );
        expect(performance.now() - started).toBeLessThan(5_000);
      }
      await waitFor(
        async () => {
          const { rows } = await direct.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND position($1 IN query) > 0 AND pid <> pg_backend_pid()`,
            [table],
          );
          return rows[0]!.n === 0;
        },
        { timeout: 5_000, interval: 50, message: 'the abandoned statements to stop on the server' },
      );
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    // The pooler took the cancel requests in its stride and still answers.
    expect(await subject.renew({ name: 'job', token, ttl: 60_000 })).toEqual({ renewed: true });
    expect(await subject.release({ name: 'job', token })).toBe(true);
  });

  it('creates the table once when four stores start on it at once', async () => {
    const starting = [store(), store(), store({ preparedStatements: false }), store()];
    const results = await Promise.all(
      starting.map((subject, i) =>
        subject.acquire({
          name: `first-${i}`,
          token: newToken(),
          ttl: 60_000,
          instanceId: `bouncer-${i}`,
        }),
      ),
    );
    expect(results.map((result) => result.acquired)).toEqual([true, true, true, true]);
  });

  it('two stores with pools of several connections claim each of many occurrences once, fences increasing', async () => {
    const stores = [store(), store({ preparedStatements: false })];
    const first = Math.floor(Date.now() / 1_000) * 1_000 - 300_000;
    const winners: { scheduledAt: number; fencingToken: number; by: number }[] = [];
    let tickDone = 0;
    for (let occurrence = 0; occurrence < 120; occurrence++) {
      const scheduledAt = first + occurrence * 1_000;
      // Three contenders per store at once: more clients than PgBouncer has server connections.
      const contenders = stores.flatMap((subject, by) =>
        Array.from({ length: 3 }, () => ({ subject, by, token: newToken() })),
      );
      const results = await Promise.all(
        contenders.map(({ subject, token }) =>
          subject.acquire({
            name: 'bouncer-job',
            token,
            ttl: 60_000,
            scheduledAt,
            instanceId: 'bouncer',
          }),
        ),
      );
      results.forEach((result, i) => {
        if (result.acquired) {
          winners.push({ scheduledAt, fencingToken: result.fencingToken, by: contenders[i].by });
        } else if (result.reason === 'tick-done') {
          tickDone += 1;
        }
      });
      const won = results.findIndex((result) => result.acquired);
      expect(won, new Date(scheduledAt).toISOString()).toBeGreaterThanOrEqual(0);
      const { subject, token } = contenders[won];
      expect(await subject.release({ name: 'bouncer-job', token })).toBe(true);
    }
    expect(winners).toHaveLength(120);
    expect(new Set(winners.map((winner) => winner.scheduledAt)).size).toBe(120);
    for (let i = 1; i < winners.length; i++) {
      expect(winners[i].fencingToken).toBeGreaterThan(winners[i - 1].fencingToken);
    }
    expect(tickDone).toBeGreaterThan(0);
  });
});

describe('the CLI behind PgBouncer in transaction mode', () => {
  it('status --json and release --yes work through the pooler, without the password', async () => {
    const pool = bouncerPool();
    const table = uniqueTable('bouncer_cli');
    const subject = new PostgresLockStore(pool, { table, logger: false });
    try {
      const stuck = await subject.acquire({
        name: 'stuck',
        token: newToken(),
        ttl: 600_000,
        instanceId: 'crashed-instance',
      });
      expect(stuck.acquired).toBe(true);
      const env = { DATABASE_URL: bouncer.url };

      const status = await runCli(['status', '--json', '--table', table], { env });
      expect(status.stderr).toBe('');
      expect(status.code).toBe(0);
      const json = JSON.parse(status.stdout) as { jobs: Array<Record<string, unknown>> };
      expect(json.jobs.map((job) => [job.name, job.held, job.holder])).toEqual([
        ['stuck', true, 'crashed-instance'],
      ]);

      const release = await runCli(['release', 'stuck', '--yes', '--table', table], { env });
      expect(release.stderr).toBe('');
      expect(release.code).toBe(0);
      expect(release.stdout).toContain('Released the lock of "stuck"');
      for (const run of [status, release]) {
        expect(`${run.stdout}${run.stderr}`).not.toContain(TEST_POSTGRES_PASSWORD);
      }
      expect((await subject.inspect('stuck')).holder).toBeNull();
    } finally {
      await subject.close();
      await pool.end();
      await dropDirect(table);
    }
  });
});

/** Runs of the per-second job, from every app of the running test. */
const runs: RunRecord[] = [];

@Injectable()
class EverySecondJob {
  @LockedCron('* * * * * *', { ttl: '5s', name: 'bouncer-every-second' })
  async tick(ctx: LockContext): Promise<void> {
    runs.push(await recordedRun(ctx));
  }
}

describe('two Nest apps behind PgBouncer in transaction mode', () => {
  const modules: TestingModule[] = [];
  const pools: pg.Pool[] = [];
  let table = '';

  afterEach(async () => {
    await Promise.all(modules.splice(0).map((module) => module.close()));
    await Promise.all(pools.splice(0).map((pool) => pool.end()));
    if (table) await dropDirect(table);
    runs.length = 0;
  });

  async function boot(instanceId: string, preparedStatements: boolean): Promise<void> {
    const pool = bouncerPool(3);
    pools.push(pool);
    const module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRootAsync({
          useFactory: () => ({
            store: new PostgresLockStore(pool, { table, preparedStatements, logger: false }),
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
    table = uniqueTable('bouncer_e2e');
    await Promise.all([boot('bouncer-app-1', true), boot('bouncer-app-2', false)]);
    const firstCounted = Math.ceil((Date.now() + 1) / 1_000) * 1_000;
    const counted = () => runs.filter((run) => run.scheduledAt >= firstCounted);
    await waitFor(() => new Set(counted().map((run) => run.scheduledAt)).size >= 5, {
      timeout: 20_000,
      message: 'five occurrences',
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

/** A valid trigger request: what `CronLockService.trigger()` sends. */
const triggerRequest = (id: string) =>
  ({ kind: 'request', id, name: 'report', force: false }) as const;

describe('triggers behind PgBouncer in transaction mode', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) await undo().catch(() => undefined);
  });

  function pooled(pool: pg.Pool, table: string, logger: CapturingLogger | false = false) {
    cleanup.push(() => pool.end());
    const created = new PostgresLockStore(pool, { table, logger });
    cleanup.push(() => created.close());
    return created;
  }

  it('subscribe rejects with a LockStoreError that says the connection keeps no session and names the fix, instead of listening deaf', async () => {
    const table = uniqueTable('bouncer_trigger');
    cleanup.push(() => dropDirect(table));
    const pool = bouncerPool();
    const listener = pooled(pool, table);
    const sender = pooled(bouncerPool(), table);
    const received: string[] = [];

    const outcome = await listener.triggers
      .subscribe((message) => received.push(message.id))
      .then(
        async (subscription) => {
          for (let i = 0; i < 5; i++) await sender.triggers.publish(triggerRequest(`bounced-${i}`));
          // Bounded on purpose: shows that none of the five arrives (on a direct connection they
          // arrive within milliseconds).
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          await subscription.close();
          return `a working subscription that heard ${received.length} of 5 triggers`;
        },
        (error: unknown) => error,
      );

    expect(outcome).toBeInstanceOf(LockStoreError);
    const message = (outcome as LockStoreError).message;
    expect(message).toMatch(/did not arrive on the listening connection/);
    expect(message).toMatch(/keeps no session/);
    expect(message).toMatch(
      /Fix: point the store at PostgreSQL directly or through a pooler in session mode/,
    );
    expect(message).not.toContain(TEST_POSTGRES_PASSWORD);
    expect(message).not.toContain(bouncer.url);
    // The deaf connection is not kept, nor given back to the pool to listen for someone else.
    expect({ lent: pool.totalCount - pool.idleCount, waiting: pool.waitingCount }).toEqual({
      lent: 0,
      waiting: 0,
    });
  });

  it('on a direct connection, subscribe still listens and hears a trigger; the check reaches no listener and logs nothing', async () => {
    const table = uniqueTable('direct_trigger');
    const admin = newPool({ max: 1 });
    cleanup.push(() => admin.end());
    cleanup.push(() => dropTable(admin, table));
    const loggers = [new CapturingLogger(), new CapturingLogger()];
    const [first, second] = loggers.map((logger) => pooled(newPool(), table, logger));
    const heard: TriggerMessage[][] = [[], []];
    const subscriptions = [
      await first.triggers.subscribe((message) => heard[0].push(message)),
      // Subscribed while the first listens: whatever it sends to check its own connection must
      // not reach the first's listener.
      await second.triggers.subscribe((message) => heard[1].push(message)),
    ];
    for (const subscription of subscriptions) cleanup.push(() => subscription.close());

    await first.triggers.publish(triggerRequest('direct-1'));
    await waitFor(() => heard.every((messages) => messages.length > 0), {
      message: 'the trigger on both direct listeners',
    });
    expect(heard.map((messages) => messages.map((message) => message.id))).toEqual([
      ['direct-1'],
      ['direct-1'],
    ]);
    for (const logger of loggers) {
      expect(
        logger.lines.filter((line) => line.level === 'warn' || line.level === 'error'),
      ).toEqual([]);
    }
  });
});

/** Runs of the per-second job of the app that cannot hear triggers. */
const deafRuns: RunRecord[] = [];

@Injectable()
class DeafAppJob {
  @LockedCron('* * * * * *', { ttl: '5s', name: 'bouncer-deaf-every-second' })
  async tick(ctx: LockContext): Promise<void> {
    deafRuns.push(await recordedRun(ctx));
  }
}

describe('a Nest app with triggers behind PgBouncer in transaction mode', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) await undo().catch(() => undefined);
    deafRuns.length = 0;
  });

  it('logs once that it cannot listen for triggers and why, keeps trying in the background, and runs its crons', async () => {
    const table = uniqueTable('bouncer_deaf');
    cleanup.push(() => dropDirect(table));
    const pool = bouncerPool(3);
    cleanup.push(() => pool.end());
    const store = new PostgresLockStore(pool, { table, logger: false, operationTimeout: 1_000 });
    let attempts = 0;
    const subscribe = store.triggers.subscribe.bind(store.triggers);
    store.triggers.subscribe = (listener) => {
      attempts += 1;
      return subscribe(listener);
    };
    const logger = new CapturingLogger();
    const module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ store, instanceId: 'bouncer-deaf', logger }),
      ],
      providers: [DeafAppJob],
    }).compile();
    cleanup.push(() => module.close());
    await module.init();

    const listenFailures = () =>
      logger.lines.filter((line) => line.message.includes('cannot listen for triggers'));
    await waitFor(() => listenFailures().length > 0, {
      timeout: 10_000,
      message: 'the app to log that it cannot listen for triggers',
    });
    // Tried again in the background (1 s, then 2 s later), and the crons keep running meanwhile.
    await waitFor(
      () => attempts >= 3 && new Set(deafRuns.map((run) => run.scheduledAt)).size >= 3,
      {
        timeout: 20_000,
        message: 'two background retries and three runs of the per-second job',
      },
    );

    expect(listenFailures()).toHaveLength(1);
    const [failure] = listenFailures();
    expect(failure.level).toBe('warn');
    expect(failure.message).toMatch(/did not arrive on the listening connection/);
    expect(failure.message).toMatch(/pooler in session mode/);
    expect(failure.message).not.toContain(TEST_POSTGRES_PASSWORD);
    expect(duplicateOccurrences(deafRuns)).toEqual([]);
  });
});
