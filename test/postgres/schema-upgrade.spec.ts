// A lock table made by an earlier version keeps working: the store adds the new columns and the
// cron path's functions (or, without DDL rights, says which ones and how to add them).
import { Test } from '@nestjs/testing';
import { CronLockModule, CronLockService } from 'nestjs-cron-lock';
import { lockTable, PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { CapturingLogger } from '../support/capturing-logger.js';
import { tablesSql } from '../../lib/stores/postgres/postgres-table.js';
import { FUNCTIONS_VERSION, functionsMark } from '../../lib/stores/postgres/functions.js';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';

/** The table as the version before the overlap policies created it. */
const previousVersionSql = (table: string): string => `CREATE TABLE "public"."${table}" (
  name text PRIMARY KEY, token text, holder text, expires_at timestamptz, tick bigint,
  fence bigint NOT NULL DEFAULT 0, ok_at bigint, ok_ms bigint, fails integer NOT NULL DEFAULT 0,
  outcome text, end_at bigint, state_expires_at timestamptz NOT NULL
) WITH (fillfactor = 70)`;

describe('PostgresLockStore on a table of an earlier version', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) await undo().catch(() => undefined);
  });

  function oldTable(label: string) {
    const pool = newPool();
    const table = uniqueTable(label);
    cleanup.push(() => pool.end());
    cleanup.push(() => dropTable(pool, table));
    return { pool, table };
  }

  const request = (token: string, scheduledAt: number) => ({
    name: 'job',
    token,
    ttl: 60_000,
    scheduledAt,
    instanceId: 'a',
  });

  it('adds the new columns and keeps the rows it finds', async () => {
    const { pool, table } = oldTable('upgrade');
    await pool.query(previousVersionSql(table));
    await pool.query(
      `INSERT INTO public.${table} (name, tick, fence, state_expires_at) VALUES ('job', 1000, 7, now() + interval '1 day')`,
    );
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());
    expect(await store.acquire(request('t1', 61_000))).toMatchObject({
      acquired: true,
      previousTick: 1000,
    });
    const { rows } = await pool.query(
      `SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND column_name IN ('queued', 'merged', 'repl')`,
      [table],
    );
    expect(rows.map((row: { column_name: string }) => row.column_name).sort()).toEqual([
      'merged',
      'queued',
      'repl',
    ]);
    expect(await store.acquire({ ...request('t2', 121_000), overlap: 'queue' })).toMatchObject({
      acquired: false,
      reason: 'queued',
    });
  });

  it('with createTable: false, refuses to run and names the missing columns and the fix', async () => {
    const { pool, table } = oldTable('outdated');
    await pool.query(previousVersionSql(table));
    const store = new PostgresLockStore(pool, { table, createTable: false, logger: false });
    cleanup.push(() => store.close());
    await expect(store.acquire(request('t1', 61_000))).rejects.toThrow(
      /lacks this version's columns \(.*queued, merged, repl, history_seq, history_low\).*schema\.sql/,
    );
  });

  /** The functions' comments: their version mark, or null for a missing one. */
  async function marks(pool: ReturnType<typeof newPool>, table: string): Promise<unknown[]> {
    const { rows } = await pool.query<{ mark: string | null }>(
      `SELECT obj_description(to_regproc(f), 'pg_proc') AS mark FROM unnest($1::text[]) AS f`,
      [[`public.${table}_acquire`, `public.${table}_release`]],
    );
    return rows.map((row) => row.mark);
  }

  it("gives tables without the cron path's functions (made by the version before them) the functions, created once by stores starting at once", async () => {
    const { pool, table } = oldTable('nofn');
    await pool.query(tablesSql(lockTable('public', table)));
    expect(await marks(pool, table)).toEqual([null, null]);
    const stores = [0, 1, 2, 3].map(() => {
      const own = newPool();
      cleanup.push(() => own.end());
      const store = new PostgresLockStore(own, { table, logger: false });
      cleanup.push(() => store.close());
      return store;
    });
    const answers = await Promise.all(
      stores.map((store, i) => store.acquire({ ...request(`t${i}`, 61_000), name: `job-${i}` })),
    );
    expect(answers.map((answer) => answer.acquired)).toEqual([true, true, true, true]);
    expect(await marks(pool, table)).toEqual([functionsMark(), functionsMark()]);
    const won = answers[0]!;
    const run = {
      scheduledAt: 61_000,
      startedAt: 61_000,
      fencingToken: won.acquired ? won.fencingToken : 0,
      instanceId: 'a',
      trigger: 'schedule' as const,
      outcome: 'completed' as const,
      error: null,
    };
    expect(
      await stores[0]!.release({
        name: 'job-0',
        token: 't0',
        outcome: { status: 'completed', durationMs: 1, finishedAt: 61_001, run },
        historySize: 10,
      }),
    ).toBe(true);
    expect(await stores[0]!.history('job-0', 10)).toHaveLength(1);
  });

  /** Replaces the acquire by one that answers held whatever the lock, commented with `mark`. */
  async function otherAcquire(pool: ReturnType<typeof newPool>, table: string, mark: string) {
    await pool.query(`CREATE OR REPLACE FUNCTION public.${table}_acquire(p_name text, p_token text,
      p_ttl float8, p_at bigint, p_state float8, p_instance text, p_force boolean, p_size integer)
      RETURNS text LANGUAGE sql AS $$ SELECT ',held,,f,,f' $$;
      COMMENT ON FUNCTION public.${table}_acquire IS '${mark}'`);
  }

  it.each([
    ['an earlier version', 'nestjs-cron-lock functions v0'],
    ['no version it can read', 'nestjs-cron-lock 9fbe71baf30ee26e908744668334fadb'],
  ])('replaces functions of %s', async (_, mark) => {
    const { pool, table } = oldTable('oldfn');
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());
    await store.inspect('job'); // creates the tables and the functions
    await otherAcquire(pool, table, mark);
    const own = newPool();
    cleanup.push(() => own.end());
    const next = new PostgresLockStore(own, { table, logger: false });
    cleanup.push(() => next.close());
    expect(await next.acquire(request('t1', 61_000))).toMatchObject({ acquired: true });
    expect(await marks(pool, table)).toEqual([functionsMark(), functionsMark()]);
  });

  it('replaces the functions an earlier build with the history entries unnumbered made (v1, the same names), as after a rollback re-applied its schema.sql', async () => {
    const { pool, table } = oldTable('v1fn');
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());
    await store.inspect('job'); // creates the tables and the functions
    // That build's functions: the same names and arguments, v1 in their comments, an acquire that
    // behaves otherwise (here: always held).
    const v1 = 'nestjs-cron-lock functions v1';
    await otherAcquire(pool, table, v1);
    await pool.query(`COMMENT ON FUNCTION public.${table}_release IS '${v1}';
      COMMENT ON FUNCTION public.${table}_trim IS '${v1}'`);
    const own = newPool();
    cleanup.push(() => own.end());
    const next = new PostgresLockStore(own, { table, createTable: true, logger: false });
    cleanup.push(() => next.close());
    expect(await next.acquire(request('t1', 61_000))).toMatchObject({ acquired: true });
    expect(await marks(pool, table)).toEqual([functionsMark(), functionsMark()]);
  });

  it.each([true, false])(
    "runs on a later version's functions and leaves them in place (createTable: %s), as the instances of an earlier build do during a rolling deploy",
    async (createTable) => {
      const { pool, table } = oldTable('newfn');
      const store = new PostgresLockStore(pool, { table, logger: false });
      cleanup.push(() => store.close());
      await store.inspect('job'); // creates the tables and the functions
      const later = `nestjs-cron-lock functions v${FUNCTIONS_VERSION + 1}`;
      await otherAcquire(pool, table, later);
      const own = newPool();
      cleanup.push(() => own.end());
      const next = new PostgresLockStore(own, { table, createTable, logger: false });
      cleanup.push(() => next.close());
      // The later acquire (here: always held) is what runs.
      expect(await next.acquire(request('t1', 61_000))).toMatchObject({
        acquired: false,
        reason: 'held',
      });
      expect(await marks(pool, table)).toEqual([later, functionsMark()]);
    },
  );

  it('calls its own functions when a function of the same name with other argument types exists', async () => {
    const { pool, table } = oldTable('overload');
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());
    await store.inspect('job'); // creates the tables and the functions
    // What a role with CREATE on the schema could add: the same name, every argument text, a
    // fencing token for every caller.
    await pool.query(`CREATE FUNCTION public.${table}_acquire(text, text, text, text, text, text,
      text, text) RETURNS text LANGUAGE sql AS $$ SELECT '4242,,,f,,f' $$`);
    const first = await store.acquire(request('t1', 61_000));
    expect(first).toMatchObject({ acquired: true });
    expect(first.acquired && first.fencingToken).not.toBe(4242);
    expect(await store.acquire(request('t2', 61_000))).toMatchObject({ acquired: false });
  });

  it("reads its functions' answers through the catalog's own builders, not a function of the same name on the caller's search path", async () => {
    const { pool, table } = oldTable('builder');
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());
    await store.inspect('job'); // creates the tables and the functions
    // What a role with CREATE on a schema of the app role's search path could add: builders whose
    // argument types match the answers' fields exactly, which the catalog's (`VARIADIC "any"`)
    // do not, so they would be the better match: a fencing token for every caller, every release
    // its lock's.
    const schema = `h_${table}`;
    await pool.query(`CREATE SCHEMA ${schema};
      CREATE FUNCTION ${schema}.concat(bigint, text, text, text, bigint, text, boolean, text,
        bigint, text, boolean) RETURNS text LANGUAGE sql AS $$ SELECT '4242,held,,f,,f' $$;
      CREATE FUNCTION ${schema}.concat(boolean, text, bigint, text, boolean) RETURNS text
        LANGUAGE sql AS $$ SELECT 't,,f' $$`);
    cleanup.push(() => pool.query(`DROP SCHEMA ${schema} CASCADE`));
    const searched = newPool({ options: `-c search_path=${schema},public` });
    cleanup.push(() => searched.end());
    const own = new PostgresLockStore(searched, { table, createTable: false, logger: false });
    cleanup.push(() => own.close());

    const first = await own.acquire(request('t1', 61_000));
    expect(first).toMatchObject({ acquired: true });
    expect(first.acquired && first.fencingToken).not.toBe(4242);
    expect(await own.acquire(request('t2', 62_000))).toMatchObject({ acquired: false });
    const outcome = { status: 'completed' as const, durationMs: 1, finishedAt: Date.now() };
    expect(await own.release({ name: 'job', token: 't2', outcome, historySize: 10 })).toBe(false);
  });

  it('does not take functions another role owns for its own, whatever version their comment claims', async () => {
    const { pool, table } = oldTable('owner');
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());
    await store.inspect('job'); // creates the tables and the functions
    const role = `r_${table}`;
    await pool.query(`CREATE ROLE ${role} NOLOGIN`);
    cleanup.push(() => pool.query(`DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`));
    await otherAcquire(pool, table, 'nestjs-cron-lock functions v999999999');
    await pool.query(`ALTER FUNCTION public.${table}_acquire OWNER TO ${role}`);
    const own = newPool();
    cleanup.push(() => own.end());
    const next = new PostgresLockStore(own, { table, createTable: false, logger: false });
    cleanup.push(() => next.close());
    await expect(next.acquire(request('t1', 61_000))).rejects.toThrow(
      /lacks this version's functions .*not owned by the table's owner/,
    );
  });

  /**
   * Replaces both functions by ones of this version's number that answer columns, as an
   * unreleased build's did: read as one text, a row of them is `(,held,,f,,f)`, whose first field
   * is not empty.
   */
  async function columnFunctions(pool: ReturnType<typeof newPool>, table: string) {
    await pool.query(`DROP FUNCTION public.${table}_acquire(text, text, float8, bigint, float8,
      text, boolean, integer);
      CREATE FUNCTION public.${table}_acquire(p_name text, p_token text, p_ttl float8,
      p_at bigint, p_state float8, p_instance text, p_force boolean, p_size integer,
      OUT fence bigint, OUT reason text, OUT ok_at bigint, OUT paused boolean, OUT prev bigint,
      OUT refreshed boolean)
      LANGUAGE sql AS $$ SELECT NULL::bigint, 'held', NULL::bigint, false, NULL::bigint, false $$;
      COMMENT ON FUNCTION public.${table}_acquire IS '${functionsMark()}';
      DROP FUNCTION public.${table}_release(text, text, float8, text, bigint, bigint, float8,
      integer, text[], boolean, boolean);
      CREATE FUNCTION public.${table}_release(p_name text, p_token text, p_keep float8,
      p_outcome text, p_duration bigint, p_finished bigint, p_state float8, p_size integer,
      p_entries text[], p_refresh boolean, p_sweep boolean,
      OUT released boolean, OUT queued bigint, OUT sweep_more boolean)
      LANGUAGE sql AS $$ SELECT true, NULL::bigint, false $$;
      COMMENT ON FUNCTION public.${table}_release IS '${functionsMark()}'`);
  }

  /** A table of this version whose functions then answer columns (see columnFunctions). */
  async function tableWithColumnFunctions(label: string) {
    const { pool, table } = oldTable(label);
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());
    await store.inspect('job'); // creates the tables and the functions
    await columnFunctions(pool, table);
    return { pool, table, store };
  }

  it('fails an acquisition and a release whose function answers in a form it does not read, rather than taking a lock or a release from it', async () => {
    const { store } = await tableWithColumnFunctions('shape');
    const unread = /answers in a form this version does not read.*Fix: .*schema\.sql/;
    await expect(store.acquire(request('t1', 61_000))).rejects.toThrow(unread);
    await expect(
      store.release({
        name: 'job',
        token: 't1',
        outcome: { status: 'completed', durationMs: 1, finishedAt: Date.now() },
        historySize: 10,
      }),
    ).rejects.toThrow(unread);
  });

  it("replaces functions that answer columns (an unreleased build's, marked with this version) when it may (createTable: true), and runs on its own", async () => {
    const { pool, table } = await tableWithColumnFunctions('colfn');
    const own = newPool();
    cleanup.push(() => own.end());
    const next = new PostgresLockStore(own, { table, logger: false });
    cleanup.push(() => next.close());

    const taken = await next.acquire(request('t1', 61_000));
    expect(taken).toMatchObject({ acquired: true });
    const outcome = { status: 'completed' as const, durationMs: 1, finishedAt: Date.now() };
    expect(await next.release({ name: 'job', token: 't1', outcome, historySize: 10 })).toBe(true);
    const { rows } = await pool.query<{ answer: string }>(
      `SELECT prorettype::regtype::text AS answer FROM pg_proc
        WHERE oid IN (to_regproc($1), to_regproc($2)) ORDER BY proname`,
      [`public.${table}_acquire`, `public.${table}_release`],
    );
    expect(rows.map((row) => row.answer)).toEqual(['text', 'text']);
    expect(await marks(pool, table)).toEqual([functionsMark(), functionsMark()]);
  });

  /**
   * A store on `connections` connections, each of which prepared its acquire call against
   * functions that answer columns (calls at once hold them all; each is refused), and another
   * instance (createTable: true) that then replaced those functions.
   */
  async function storeWithStalePlans(label: string, connections: number) {
    const { table } = await tableWithColumnFunctions(label);
    const running = newPool({ max: connections });
    cleanup.push(() => running.end());
    const store = new PostgresLockStore(running, { table, createTable: false, logger: false });
    cleanup.push(() => store.close());
    const refused = await Promise.allSettled(
      Array.from({ length: connections }, (_, n) =>
        store.acquire({ ...request(`s${n}`, 61_000), name: `job${n}` }),
      ),
    );
    for (const result of refused) {
      expect(result).toMatchObject({ status: 'rejected', reason: { message: /does not read/ } });
    }
    const own = newPool();
    cleanup.push(() => own.end());
    const next = new PostgresLockStore(own, { table, logger: false });
    cleanup.push(() => next.close());
    await next.inspect('job'); // replaces the functions
    return store;
  }

  it('runs on at once, on the connection it prepared its calls on, after another instance replaced functions that answered columns', async () => {
    const store = await storeWithStalePlans('stale', 1);

    expect(await store.acquire(request('t3', 181_000))).toMatchObject({ acquired: true });
    const outcome = { status: 'completed' as const, durationMs: 1, finishedAt: Date.now() };
    expect(await store.release({ name: 'job', token: 't3', outcome, historySize: 10 })).toBe(true);
  });

  it('runs on at once after another instance replaced functions that answered columns, whichever of its prepared connections each call gets', async () => {
    const store = await storeWithStalePlans('stale4', 4);

    for (const n of [0, 1, 2, 3]) {
      expect(await store.acquire({ ...request(`t${n}`, 121_000), name: `job${n}` })).toMatchObject({
        acquired: true,
      });
    }
  });

  it("with createTable: false, refuses to run on tables without this version's functions and names them and the fix", async () => {
    const { pool, table } = oldTable('nofnro');
    await pool.query(tablesSql(lockTable('public', table)));
    const store = new PostgresLockStore(pool, { table, createTable: false, logger: false });
    cleanup.push(() => store.close());
    await expect(store.acquire(request('t1', 61_000))).rejects.toThrow(
      new RegExp(
        `lacks this version's functions \\(public\\.${table}_acquire, _release, _trim: .*schema\\.sql`,
      ),
    );
  });
});

describe("PostgresLockStore's refusal of a table of an earlier version, as the module reports it", () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) await undo().catch(() => undefined);
  });

  /** A name of the longest kind a schema or a table may have (40 characters). */
  const longest = (label: string): string => uniqueTable(label).padEnd(40, '_x');

  const kinds: Array<[string, (schema: string, table: string) => string]> = [
    [
      'an earlier version of the table',
      (schema, table) => previousVersionSql(table).replace('"public"', `"${schema}"`),
    ],
    [
      "the table without this version's functions",
      (schema, table) => tablesSql(lockTable(schema, table)),
    ],
  ];

  it.each([
    ...kinds.map(([kind, make]) => [kind, 'the default schema', make] as const),
    ...kinds.map(([kind, make]) => [kind, 'a schema and a table of 40 characters', make] as const),
  ])(
    'logs and emits the whole fix, not only the start of the message, for %s and createTable: false (%s)',
    async (_, names, make) => {
      const pool = newPool();
      cleanup.push(() => pool.end());
      const long = names !== 'the default schema';
      const schema = long ? longest('s_fix') : 'public';
      const table = long ? longest('fix') : uniqueTable('fix');
      if (long) {
        await pool.query(`CREATE SCHEMA "${schema}"`);
        cleanup.push(() => pool.query(`DROP SCHEMA "${schema}" CASCADE`));
      } else {
        cleanup.push(() => dropTable(pool, table));
      }
      await pool.query(make(schema, table));
      const store = new PostgresLockStore(pool, {
        schema,
        table,
        createTable: false,
        logger: false,
      });
      const logger = new CapturingLogger();
      const module = await Test.createTestingModule({
        imports: [CronLockModule.forRoot({ store, logger })],
      }).compile();
      cleanup.push(() => module.close());
      await module.init();
      const locks = module.get(CronLockService);
      const events: string[] = [];
      locks.on('store-error', (event) => events.push(event.message));

      expect(await locks.run('job', { ttl: 60_000 }, () => 'never')).toEqual({
        ran: false,
        reason: 'store-error',
      });
      const fix = /Fix: .*schema\.sql.*, or set createTable: true\.$/;
      const lines = logger.lines
        .map((line) => line.message)
        .filter((message) => message.includes('lock store error on acquire'));
      expect(lines).toHaveLength(1);
      // The line goes on with what the runner did (`; run skipped …`): the fix comes before it.
      expect(lines[0]!.slice(0, lines[0]!.lastIndexOf('; run skipped'))).toMatch(fix);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatch(fix);
    },
  );
});
