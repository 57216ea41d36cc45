import { readFileSync } from 'node:fs';
import { CronLockConfigError, LockStoreError } from 'nestjs-cron-lock';
import { createTableSql, lockTable, PostgresLockStore } from 'nestjs-cron-lock/postgres';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { newToken } from '../contract/lock-store.contract.js';
import { RedisTcpProxy } from '../faults/support/tcp-proxy.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { forkTs } from '../support/fork-ts.js';
import { TEST_POSTGRES_PASSWORD } from '../support/postgres-server.js';
import {
  dropTable,
  newPool,
  retryOutOfTime,
  testPostgresUrl,
  uniqueTable,
} from '../support/postgres.js';
import { recordRun } from '../support/recorded-run.js';
import { waitFor } from '../support/redis.js';

const MINUTE = 60_000;
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

/** Every pool, store and table a test made, undone after it. */
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

function pool(options: pg.PoolConfig = {}): pg.Pool {
  const made = newPool(options);
  cleanup.push(() => made.end());
  return made;
}

function table(label: string, on: pg.Pool): string {
  const name = uniqueTable(label);
  cleanup.push(() => dropTable(on, name));
  return name;
}

function store(
  on: pg.Pool | string,
  options: ConstructorParameters<typeof PostgresLockStore>[1] = {},
): PostgresLockStore {
  const made = new PostgresLockStore(on, { logger: false, ...options });
  cleanup.push(() => made.close());
  return made;
}

/** Every text an error carries that could reach a log line. */
function everyText(error: unknown): string {
  const e = error as Error & { cause?: unknown };
  return `${e.name} ${e.message} ${e.stack ?? ''} ${String(e.cause ?? '')}`;
}

describe('PostgresLockStore', () => {
  describe('schema', () => {
    it('ships a schema.sql that is exactly what createTable runs for the default names', () => {
      const shipped = readFileSync(
        new URL('../../lib/stores/postgres/schema.sql', import.meta.url),
        'utf8',
      );
      const statements = shipped
        .split('\n')
        .filter((line) => !line.startsWith('--'))
        .join('\n')
        .trim();
      expect(statements).toBe(createTableSql(lockTable(undefined, undefined)).trim());
    });

    /**
     * A table made from the shipped schema.sql, and a role with no rights yet that may log in:
     * its name and a URL that connects as it.
     */
    async function shippedTableAndRole(
      admin: pg.Pool,
      label: string,
    ): Promise<{ name: string; role: string; url: string }> {
      const name = table(label, admin);
      const shipped = readFileSync(
        new URL('../../lib/stores/postgres/schema.sql', import.meta.url),
        'utf8',
      ).replaceAll('cron_lock', name);
      await admin.query(shipped);
      const role = `r_${name}`;
      cleanup.push(() => admin.query(`DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`));
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'app-pw-1'`);
      const url = new URL(testPostgresUrl());
      url.username = role;
      url.password = 'app-pw-1';
      return { name, role, url: url.toString() };
    }

    it('works with createTable: false on a table made from schema.sql, by a role with no DDL rights', async () => {
      const admin = pool();
      const { name, role, url } = await shippedTableAndRole(admin, 'nodl');
      // The least privileges the documentation names: USAGE on the schema, DML on the tables.
      await admin.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
      await admin.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE ON public.${name}, public.${name}_history TO ${role}`,
      );
      const app = store(url, { table: name, createTable: false });
      const token = newToken();
      expect(
        await app.acquire({
          name: 'job',
          token,
          ttl: MINUTE,
          instanceId: 'a',
          scheduledAt: OCCURRENCE,
        }),
      ).toMatchObject({ acquired: true });
      expect(await app.renew({ name: 'job', token, ttl: MINUTE })).toEqual({ renewed: true });
      expect(
        await app.release({
          name: 'job',
          token,
          outcome: { status: 'completed', durationMs: 1, finishedAt: OCCURRENCE },
        }),
      ).toBe(true);
      expect((await app.inspect('job')).lastTick).toBe(OCCURRENCE);
    });

    it('works with createTable: false and history on, by a role given exactly the grants the docs name', async () => {
      const admin = pool();
      const { name, role, url } = await shippedTableAndRole(admin, 'grants');
      // The docs' block as written, for this table and role: the docs cannot drift from it.
      const guide = readFileSync(new URL('../../docs/stores.md', import.meta.url), 'utf8');
      const section = guide.slice(guide.indexOf('### Least privileges'));
      const grants = /```sql\n([\s\S]*?)```/.exec(section)![1]!;
      expect(grants).toMatch(/^GRANT .* TO app;$/m);
      await admin.query(grants.replaceAll('cron_lock', name).replace(/ TO app;/g, ` TO ${role};`));
      const app = store(url, { table: name, createTable: false });
      // Two runs with a history of one: the second release also deletes the first entry.
      await recordRun(app, { name: 'job', scheduledAt: OCCURRENCE, historySize: 1 });
      await recordRun(app, { name: 'job', scheduledAt: OCCURRENCE + MINUTE, historySize: 1 });
      expect(await app.history('job', 5)).toMatchObject([
        { scheduledAt: OCCURRENCE + MINUTE, outcome: 'completed' },
      ]);
      expect((await app.inspect('job')).lastTick).toBe(OCCURRENCE + MINUTE);
    });

    it('when its role may not create the table, names both tables the role then needs rights on', async () => {
      const admin = pool();
      const name = table('denied', admin);
      // A schema of the test's own, without CREATE for the role on any server version.
      const schema = `s_${name}`;
      const role = `r_${name}`;
      cleanup.push(() =>
        admin.query(
          `DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`,
        ),
      );
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'app-pw-3'`);
      await admin.query(`CREATE SCHEMA ${schema}; GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
      const url = new URL(testPostgresUrl());
      url.username = role;
      url.password = 'app-pw-3';
      const app = store(url.toString(), { schema, table: name });
      const attempt = app.acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'a' });
      await expect(attempt).rejects.toBeInstanceOf(LockStoreError);
      await expect(attempt).rejects.toThrow(
        `SELECT, INSERT, UPDATE, DELETE on ${schema}.${name} and ${schema}.${name}_history`,
      );
    });

    it('with createTable: false and no table, fails each operation with the fix, and recovers once the table exists', async () => {
      const admin = pool();
      const name = table('missing', admin);
      const app = store(admin, { table: name, createTable: false });
      const attempt = app.acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'a' });
      await expect(attempt).rejects.toBeInstanceOf(LockStoreError);
      await expect(attempt).rejects.toThrow(/public\.t_missing_\w+ does not exist.*schema\.sql/);
      await admin.query(createTableSql(lockTable('public', name)));
      expect(
        (await app.acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'a' }))
          .acquired,
      ).toBe(true);
    });

    it('brings a table of an earlier version up to date: the pause and schedule columns and the history table', async () => {
      const admin = pool();
      const name = table('upgrade', admin);
      // The table as the first release created it, with a job's state in it.
      await admin.query(createTableSql(lockTable('public', name)).split('ALTER TABLE')[0]!);
      await admin.query(
        `INSERT INTO public.${name} (name, tick, fence, state_expires_at) VALUES ('job', $1, 7, now() + interval '1 day')`,
        [OCCURRENCE],
      );
      const strict = store(admin, { table: name, createTable: false });
      const refused = strict.inspect('job');
      await expect(refused).rejects.toThrow(/lacks this version.s columns.*schema\.sql again/);
      const app = store(admin, { table: name });
      await app.pause('job', { reason: 'upgrade', until: null });
      expect(await app.inspect('job')).toMatchObject({
        lastTick: OCCURRENCE,
        fencingToken: 7,
        paused: true,
        pauseReason: 'upgrade',
      });
      const next = OCCURRENCE + MINUTE;
      expect(
        await app.acquire({
          name: 'job',
          token: newToken(),
          ttl: MINUTE,
          instanceId: 'a',
          scheduledAt: next,
          historySize: 5,
        }),
      ).toMatchObject({ acquired: false, reason: 'paused' });
      expect(await app.history('job', 5)).toMatchObject([{ kind: 'paused', scheduledAt: next }]);
      // The store that refused now finds the table complete.
      expect((await strict.inspect('job')).paused).toBe(true);
    });

    it('creates the table once when eight instances start at once, and one of them takes each occurrence', async () => {
      const admin = pool();
      const name = table('race', admin);
      const stores = Array.from({ length: 8 }, () => store(pool({ max: 1 }), { table: name }));
      const results = await Promise.all(
        stores.map((s, i) =>
          s.acquire({
            name: 'job',
            token: newToken(),
            ttl: MINUTE,
            instanceId: `i-${i}`,
            scheduledAt: OCCURRENCE,
          }),
        ),
      );
      expect(results.filter((r) => r.acquired)).toHaveLength(1);
      expect(results.filter((r) => !r.acquired)).toHaveLength(7);
      const { rows } = await admin.query<{ count: string }>(
        'SELECT count(*) FROM pg_class WHERE relname = $1',
        [name],
      );
      expect(rows[0].count).toBe('1');
    });

    it('creates a missing schema too', async () => {
      const admin = pool();
      const schema = uniqueTable('schema');
      cleanup.push(() => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
      const app = store(admin, { schema, table: 'locks' });
      expect(
        (await app.acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'a' }))
          .acquired,
      ).toBe(true);
      expect(app.tableName).toBe(`${schema}.locks`);
    });

    it.each([
      ['table', 'locks; DROP TABLE x'],
      ['table', 'Locks'],
      ['table', ''],
      ['table', '1locks'],
      ['schema', 'a"b'],
      ['schema', 'x'.repeat(41)],
    ])('rejects %s %j at construction, naming the fix', (option, value) => {
      expect(() => new PostgresLockStore(testPostgresUrl(), { [option]: value })).toThrow(
        CronLockConfigError,
      );
      expect(() => new PostgresLockStore(testPostgresUrl(), { [option]: value })).toThrow(
        /PostgresLockStore\.constructor: .*Fix: use 1 to 40 characters among a-z 0-9 _/,
      );
    });

    // `{ schema: config.get('LOCK_SCHEMA') }` unset would put apps meant to be apart in one table.
    it.each(['schema', 'table', 'createTable', 'operationTimeout', 'preparedStatements', 'logger'])(
      'rejects %s present but undefined instead of taking its default',
      (option) => {
        expect(() => new PostgresLockStore(testPostgresUrl(), { [option]: undefined })).toThrow(
          CronLockConfigError,
        );
        expect(() => new PostgresLockStore(testPostgresUrl(), { [option]: undefined })).toThrow(
          new RegExp(`PostgresLockStore\\.constructor: option ${option} .*Fix:`),
        );
      },
    );

    it('rejects what is neither a pool nor a postgres connection string, and bad options', () => {
      expect(() => new PostgresLockStore('')).toThrow(CronLockConfigError);
      expect(() => new PostgresLockStore('redis://localhost')).toThrow(/postgres:\/\//);
      expect(() => new PostgresLockStore({} as pg.Pool)).toThrow(CronLockConfigError);
      expect(
        () => new PostgresLockStore(testPostgresUrl(), { operationTimeout: 0, logger: false }),
      ).toThrow(/operationTimeout/);
      expect(
        () =>
          new PostgresLockStore(testPostgresUrl(), {
            createTable: 'yes' as unknown as boolean,
            logger: false,
          }),
      ).toThrow(/createTable/);
    });
  });

  describe('prepared statements', () => {
    it('goes on with unnamed statements, said once, when the server lost a prepared one (a transaction-mode pooler)', async () => {
      // One connection: the store prepares its statements on it, then DEALLOCATE ALL makes the
      // server forget them while the client still believes they exist, as a pooler switching
      // server connections does.
      const shared = pool({ max: 1 });
      const logger = new CapturingLogger();
      const s = store(shared, { table: table('prep', shared), logger });
      const first = newToken();
      const second = newToken();
      expect(
        (await s.acquire({ name: 'first', token: first, ttl: MINUTE, instanceId: 'a' })).acquired,
      ).toBe(true);
      expect(await s.release({ name: 'first', token: first })).toBe(true);
      await shared.query('DEALLOCATE ALL');
      expect(
        (await s.acquire({ name: 'second', token: second, ttl: MINUTE, instanceId: 'a' })).acquired,
      ).toBe(true);
      await shared.query('DEALLOCATE ALL');
      expect(await s.release({ name: 'second', token: second })).toBe(true);
      const warnings = logger.lines.filter((line) => line.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0].message).toMatch(/SQLSTATE 26000.*now sends unnamed statements/);
    });
  });

  describe('pools', () => {
    it('never closes a pool passed in', async () => {
      const app = pool();
      const s = new PostgresLockStore(app, { table: table('mine', app), logger: false });
      await s.ping();
      await s.close();
      expect((await app.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    });

    it('refuses a pg Client (connected, not yet connected, or lent by a pool) when built, naming the fix, and leaves it alone', async () => {
      // A Client has connect() and end() as a Pool has, but one connection and no checkout: taken
      // for a pool, every operation failed later with the driver's "cannot reuse a client".
      const connected = new pg.Client({ connectionString: testPostgresUrl() });
      await connected.connect();
      cleanup.push(() => connected.end());
      const fresh = new pg.Client({ connectionString: testPostgresUrl() });
      const lender = pool();
      const lent = await lender.connect();
      cleanup.push(async () => lent.release());
      for (const client of [connected, fresh, lent]) {
        let thrown: unknown;
        try {
          store(client as unknown as pg.Pool, { table: table('client', lender) });
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(CronLockConfigError);
        expect((thrown as Error).message).toMatch(
          /^PostgresLockStore\.constructor: .*pg Client.*Fix: .*new Pool/,
        );
        expect(everyText(thrown)).not.toContain(TEST_POSTGRES_PASSWORD);
      }
      expect((await connected.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      expect((await lent.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    });

    it('closes the pool it made from a connection string', async () => {
      const admin = pool();
      const s = new PostgresLockStore(testPostgresUrl(), {
        table: table('own', admin),
        logger: false,
      });
      await s.ping();
      await s.close();
      await expect(s.ping()).rejects.toThrow(/closed/);
    });
  });

  describe('faults', () => {
    it('lets the lock of a holder killed with SIGKILL expire after its ttl, then hands out a higher fence', async () => {
      const admin = pool();
      const name = table('kill9', admin);
      // A ttl that outlasts, on a loaded machine too, the holder's report, its death and the
      // next store's first statement: the lock must still be there to be seen held.
      const holder = forkTs('test/fixtures/postgres-holder.ts', ['job', '5000', name]);
      const taken = await new Promise<{ acquired: boolean; fencingToken?: number }>(
        (resolve, reject) => {
          holder.once('message', (message) => resolve(message as { acquired: boolean }));
          holder.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
        },
      );
      expect(taken.acquired).toBe(true);
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));

      const s = store(admin, { table: name });
      expect(
        await s.acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'b' }),
      ).toMatchObject({ acquired: false, reason: 'held' });
      const next = await waitFor(
        async () => {
          const result = await s.acquire({
            name: 'job',
            token: newToken(),
            ttl: MINUTE,
            instanceId: 'b',
          });
          return result.acquired ? result : null;
        },
        { timeout: 20_000, interval: 50, message: "the dead holder's lock to expire" },
      );
      expect(next.fencingToken).toBeGreaterThan(taken.fencingToken ?? Infinity);
    });

    it('bounds an operation that waits for a row another session keeps locked, and recovers', async () => {
      const admin = pool();
      const name = table('blocked', admin);
      const s = store(pool(), { table: name, operationTimeout: 500 });
      const token = newToken();
      // The steps around the fault are retried when a loaded machine exceeds the bound.
      await retryOutOfTime(() => s.acquire({ name: 'job', token, ttl: MINUTE, instanceId: 'a' }));
      const blocker = await admin.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query(`SELECT * FROM public.${name} WHERE name = 'job' FOR UPDATE`);
        const started = performance.now();
        await expect(s.renew({ name: 'job', token, ttl: MINUTE })).rejects.toThrow(
          /no answer from PostgreSQL within 500ms/,
        );
        expect(performance.now() - started).toBeLessThan(5_000);
      } finally {
        await blocker.query('ROLLBACK');
        blocker.release();
      }
      expect(await retryOutOfTime(() => s.renew({ name: 'job', token, ttl: MINUTE }))).toEqual({
        renewed: true,
      });
      await retryOutOfTime(() => s.release({ name: 'job', token }));
    });

    it('stops on the server each operation that gave up waiting for a row another session keeps locked: no backend left waiting, nothing taken later', async () => {
      const admin = pool();
      const name = table('cancel', admin);
      const app = `cron_lock_cancel_${newToken().slice(0, 8)}`;
      const s = store(pool({ application_name: app }), { table: name, operationTimeout: 300 });
      // The steps around the fault are not about the 300 ms bound, which a loaded machine can
      // exceed on any call: the row is made and checked through a store with the default bound.
      // (An acquisition that ran out of time may still take the lock on the server later.)
      const patient = store(admin, { table: name });
      const token = newToken();
      await patient.acquire({ name: 'job', token, ttl: MINUTE, instanceId: 'a' });
      expect(await patient.release({ name: 'job', token })).toBe(true);
      const before = await patient.inspect('job');
      // The store under test has checked the table and keeps a connection: its acquisitions
      // below wait for the row, not for the table check.
      await retryOutOfTime(() => s.inspect('job'));
      /** The store's server processes still waiting for a lock. */
      const waiting = async (): Promise<number> => {
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [app],
        );
        return rows[0]!.n;
      };
      const blocker = await admin.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query(`SELECT * FROM public.${name} WHERE name = 'job' FOR UPDATE`);
        // Each retry a caller makes while the row stays locked (the runner's renewals and its
        // releases of an unanswered acquire) must not leave one more server process behind.
        // Three that waited for the row: an attempt whose new connection took longer than the
        // bound (a loaded machine) never reached the row, and is made again.
        const deadline = Date.now() + 20_000;
        for (let waited = 0; waited < 3;) {
          const error = await s
            .acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'b' })
            .then(
              () => new Error('acquired a row another session keeps locked'),
              (e: unknown) => e as Error,
            );
          if (/^no answer from PostgreSQL within 300ms/.test(error.message)) {
            waited++;
          } else {
            expect(error.message).toMatch(/^no PostgreSQL connection from the pool within 300ms/);
          }
          expect(Date.now(), 'three acquisitions that waited for the row').toBeLessThan(deadline);
        }
        await waitFor(async () => (await waiting()) === 0, {
          timeout: 20_000,
          interval: 50,
          message: 'the statements that got no answer to stop on the server',
        });
      } finally {
        await blocker.query('ROLLBACK');
        blocker.release();
      }
      // None of the abandoned acquires ran once the row was free: the lock stays free, with no
      // holder, and no fencing token was handed out to an owner nobody knows.
      const after = await patient.inspect('job');
      expect(after.ttlLeft).toBeNull();
      expect(after.fencingToken).toBe(before.fencingToken);
      expect(
        (await patient.acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'a' }))
          .acquired,
      ).toBe(true);
    });

    it('bounds a statement cut off by the network, discards its connection, and works once the network heals', async () => {
      const admin = pool();
      const direct = new URL(testPostgresUrl());
      // A plain TCP proxy: partition() holds every byte in both directions until heal().
      const proxy = await RedisTcpProxy.start(Number(direct.port));
      cleanup.push(() => proxy.close());
      const viaProxy = new URL(testPostgresUrl());
      viaProxy.port = String(proxy.port);
      const s = store(viaProxy.toString(), { table: table('cut', admin), operationTimeout: 500 });
      await retryOutOfTime(() => s.ping());

      proxy.partition();
      const started = performance.now();
      const error = await s
        .acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'a' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockStoreError);
      expect((error as Error).message).toMatch(/no answer from PostgreSQL within 500ms/);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(everyText(error)).not.toContain(TEST_POSTGRES_PASSWORD);
      proxy.heal();

      const token = newToken();
      const taken = await waitFor(
        async () => {
          const result = await s.acquire({ name: 'other', token, ttl: MINUTE, instanceId: 'a' });
          return result.acquired ? result : null;
        },
        { timeout: 20_000, message: 'the store to work again after the partition' },
      );
      expect(taken.fencingToken).toBeGreaterThan(0);
      // Retried as the acquisition (its answer may come too late once, after its work was done).
      await retryOutOfTime(() => s.release({ name: 'other', token }));
    });

    it('turns a server statement timeout into a LockStoreError with its SQLSTATE', async () => {
      const admin = pool();
      const name = table('stmt', admin);
      const s = store(pool({ statement_timeout: 200 }), { table: name });
      const token = newToken();
      await s.acquire({ name: 'job', token, ttl: MINUTE, instanceId: 'a' });
      const blocker = await admin.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query(`SELECT * FROM public.${name} WHERE name = 'job' FOR UPDATE`);
        await expect(s.release({ name: 'job', token })).rejects.toThrow(/SQLSTATE 57014/);
      } finally {
        await blocker.query('ROLLBACK');
        blocker.release();
      }
      // Nothing stranded: the timed-out release changed nothing, the lock is still ours.
      expect((await s.inspect('job')).holder).toBe('a');
      expect(await s.release({ name: 'job', token })).toBe(true);
    });

    it('says the pool is exhausted when the app holds every connection, and works once one is free', async () => {
      const admin = pool();
      const appPool = pool({ max: 1 });
      const s = store(appPool, { table: table('exhausted', admin), operationTimeout: 300 });
      await retryOutOfTime(() => s.ping());
      const held = await appPool.connect();
      try {
        await expect(
          s.acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'a' }),
        ).rejects.toThrow(/no PostgreSQL connection from the pool within 300ms/);
      } finally {
        held.release();
      }
      // Works again: retried when a loaded machine exceeds the bound (a new connection, the
      // table's first statement), and checked by the lock it took.
      await retryOutOfTime(() =>
        s.acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'a' }),
      );
      expect((await retryOutOfTime(() => s.inspect('job'))).holder).toBe('a');
    });

    it('never shows the password: wrong password, unreachable server', async () => {
      const admin = pool();
      const url = new URL(testPostgresUrl());
      url.password = 'wrong-secret-pw';
      const wrong = store(url.toString(), { table: table('pw', admin) });
      const denied = await wrong.ping().catch((error: unknown) => error);
      expect(denied).toBeInstanceOf(LockStoreError);
      expect(everyText(denied)).toMatch(/password authentication failed|28P01/);
      expect(everyText(denied)).not.toContain('wrong-secret-pw');

      const down = new URL(testPostgresUrl());
      down.port = '1';
      const unreachable = store(down.toString(), { table: table('down', admin) });
      const refused = await unreachable.ping().catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(LockStoreError);
      expect(everyText(refused)).not.toContain(TEST_POSTGRES_PASSWORD);
    });
  });

  it("keeps a run's error text as written, quotes, backslashes, braces and line breaks included, with missed occurrences or without", async () => {
    const admin = pool();
    const s = store(admin, { table: table('entry_text', admin) });
    const error = 'Error: "quoted" \\ back\\slash {braces}, a comma, NULL\nnext line ünïcode ✓';
    const runs = [OCCURRENCE + MINUTE, OCCURRENCE + 3 * MINUTE];
    await recordRun(s, { name: 'job', scheduledAt: runs[0]!, historySize: 5, error });
    // The second release also records an occurrence found missed: a list of two entries.
    await recordRun(s, {
      name: 'job',
      scheduledAt: runs[1]!,
      historySize: 5,
      error,
      missed: [OCCURRENCE + 2 * MINUTE],
    });
    expect(await s.history('job', 5)).toMatchObject([
      { kind: 'run', scheduledAt: runs[1], error },
      { kind: 'missed', scheduledAt: OCCURRENCE + 2 * MINUTE, error: null },
      { kind: 'run', scheduledAt: runs[0], error },
    ]);
  });

  it('keeps the table bounded: a release sweeps rows whose state expired and whose lock is free', async () => {
    const admin = pool();
    const name = table('sweep', admin);
    const s = store(admin, { table: name });
    const token = newToken();
    await s.acquire({ name: 'job', token, ttl: MINUTE, instanceId: 'a' });
    await admin.query(
      `INSERT INTO public.${name} (name, fence, state_expires_at, expires_at, token)
       SELECT 'stale-' || i, 1, now() - interval '1 day', NULL, NULL FROM generate_series(1, 5) i`,
    );
    await admin.query(
      `INSERT INTO public.${name} (name, fence, state_expires_at, expires_at, token)
       VALUES ('stale-but-held', 1, now() - interval '1 day', now() + interval '1 hour', 'x')`,
    );
    await s.release({ name: 'job', token });
    const { rows } = await admin.query<{ name: string }>(
      `SELECT name FROM public.${name} ORDER BY name`,
    );
    expect(rows.map((row) => row.name)).toEqual(['job', 'stale-but-held']);
  });

  describe('history expiry', () => {
    const DAY = 86_400_000;
    let occurrence = OCCURRENCE;

    /** One recorded run of `name` on a new occurrence (a history of 5). */
    const runRecorded = (s: PostgresLockStore, name: string, markerTtl: number): Promise<void> =>
      recordRun(s, { name, scheduledAt: (occurrence += MINUTE), historySize: 5, markerTtl });

    /** Ms left to the job's row, and to each of its history entries, oldest first. */
    async function left(
      admin: pg.Pool,
      name: string,
      job: string,
    ): Promise<{ row: number; entries: number[] }> {
      const ms = (column: string): string =>
        `extract(epoch FROM ${column} - clock_timestamp()) * 1000`;
      const row = await admin.query<{ left: number }>(
        `SELECT ${ms('state_expires_at')} AS left FROM public.${name} WHERE name = $1`,
        [job],
      );
      const entries = await admin.query<{ left: number }>(
        `SELECT ${ms('expires_at')} AS left FROM public.${name}_history WHERE name = $1 ORDER BY id`,
        [job],
      );
      return { row: Number(row.rows[0].left), entries: entries.rows.map((r) => Number(r.left)) };
    }

    /** The job's row and each of its `count` entries have more than `days` left, give or take a minute. */
    async function expectKept(
      admin: pg.Pool,
      name: string,
      job: string,
      count: number,
      days: number,
    ): Promise<void> {
      const { row, entries } = await left(admin, name, job);
      expect(row).toBeGreaterThan(days * DAY - MINUTE);
      expect(entries).toHaveLength(count);
      for (const entry of entries) {
        expect(entry).toBeGreaterThan(days * DAY - MINUTE);
      }
    }

    it("keeps the history as long as the job's row, when a long marker ttl keeps the row past 30 days", async () => {
      // A monthly job: its marker ttl (two periods) keeps its row for 124 days. Its entries must
      // last as long, or the history of a job that runs monthly never shows more than a month.
      const admin = pool();
      const name = table('hist_ttl', admin);
      const s = store(admin, { table: name });
      await runRecorded(s, 'monthly', 62 * DAY);
      await runRecorded(s, 'monthly', 62 * DAY);
      await expectKept(admin, name, 'monthly', 2, 124);
    });

    it("refreshes every entry's expiry when it refreshes the row's, the history full or not", async () => {
      const admin = pool();
      const name = table('hist_refresh', admin);
      const s = store(admin, { table: name });
      await runRecorded(s, 'job', 0);
      await expireSoon(admin, name);
      await runRecorded(s, 'job', 0);
      await expectKept(admin, name, 'job', 2, 30);
      // Full (5 entries): the release trims the oldest and refreshes the others.
      for (let run = 0; run < 3; run++) {
        await runRecorded(s, 'job', 0);
      }
      await expireSoon(admin, name);
      await runRecorded(s, 'job', 0);
      await expectKept(admin, name, 'job', 5, 30);
    });

    it("refreshes every entry's expiry when a paused occurrence's claim refreshes the row's", async () => {
      // A paused job takes no lock, so no release follows its claims: the claim that moves the
      // row's expiry must move its entries' too, or a pause of a month loses the job's history.
      const admin = pool();
      const name = table('hist_paused', admin);
      const s = store(admin, { table: name });
      await runRecorded(s, 'job', 0);
      await s.pause('job', { reason: null, until: null });
      await expireSoon(admin, name);
      const claim = await s.acquire({
        name: 'job',
        token: newToken(),
        ttl: MINUTE,
        instanceId: 'a',
        scheduledAt: (occurrence += MINUTE),
        historySize: 5,
      });
      expect(claim).toMatchObject({ acquired: false, reason: 'paused' });
      // The run's entry and the paused occurrence's.
      await expectKept(admin, name, 'job', 2, 30);
    });

    it("moves every entry's expiry with the row's when a pause moves it", async () => {
      const admin = pool();
      const name = table('hist_pause', admin);
      const s = store(admin, { table: name });
      await runRecorded(s, 'job', 0);
      await expireSoon(admin, name);
      await s.pause('job', { reason: null, until: null });
      await s.resume('job');
      await runRecorded(s, 'job', 0);
      await expectKept(admin, name, 'job', 2, 30);
    });

    /** Less than half of the 30 days left: the next acquisition refreshes the row's expiry. */
    async function expireSoon(admin: pg.Pool, name: string): Promise<void> {
      await admin.query(
        `UPDATE public.${name} SET state_expires_at = clock_timestamp() + interval '14 days'`,
      );
      await admin.query(
        `UPDATE public.${name}_history SET expires_at = clock_timestamp() + interval '14 days'`,
      );
    }
  });

  it('ignores an occurrence marker beyond the bound (a µs timestamp), written before ticks were bounded', async () => {
    const admin = pool();
    const name = table('poison', admin);
    const s = store(admin, { table: name });
    // The store creates its table on first use.
    await s.acquire({ name: 'other', token: newToken(), ttl: MINUTE, instanceId: 'a' });
    await admin.query(
      `INSERT INTO public.${name} (name, tick, fence, state_expires_at)
       VALUES ('job', $1, 5, now() + interval '1 hour')`,
      [Date.now() * 1_000],
    );
    const now = Date.now();
    const result = await s.acquire({
      name: 'job',
      token: newToken(),
      ttl: MINUTE,
      scheduledAt: now,
      instanceId: 'a',
    });
    expect(result.acquired).toBe(true);
    expect((await s.inspect('job')).lastTick).toBe(now);
  });

  it('takes time from the database, not from the instance', async () => {
    const admin = pool();
    const s = store(admin, { table: table('clock', admin) });
    await s.acquire({ name: 'job', token: newToken(), ttl: 5 * MINUTE, instanceId: 'a' });
    const { rows } = await admin.query<{ left: number }>(
      `SELECT extract(epoch FROM expires_at - clock_timestamp()) * 1000 AS left FROM public.${s.tableName.split('.')[1]}`,
    );
    expect(Number(rows[0].left)).toBeGreaterThan(4 * MINUTE);
    expect(Number(rows[0].left)).toBeLessThanOrEqual(5 * MINUTE);
  });
});
