// How much of the tables a PostgresLockStore release reads. Every release also sweeps a few
// expired rows and history entries of any job: that sweep must find them through the expiry
// indexes and delete them without reading the whole table, or each release costs in proportion
// to the number of jobs and of their history entries. The release the store sends (a call of the
// table's release function) is captured and run again in a transaction rolled back, and the rows
// it read are the server's own count for that transaction (pg_stat_xact_user_tables: rows read by
// sequential scans and fetched through indexes, those a filter then dropped included).
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { recordRun } from '../support/recorded-run.js';

const MINUTE = 60_000;
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);
const OTHER_JOBS = 2_000;
const OTHER_ENTRIES = 20_000;
/** The job's own row, its history (trimmed to HISTORY_SIZE) and two sweeps of at most 16. */
const READ_BOUND = 300;
const HISTORY_SIZE = 10;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

interface SentQuery {
  text: string;
  values: unknown[];
}

interface Subject {
  pool: pg.Pool;
  table: string;
  store: PostgresLockStore;
  /** The statements the store sent, in order. */
  sent: SentQuery[];
  /**
   * Another store on the same pool and table. A store's first release sweeps; after that its
   * releases sweep at most once a second unless a sweep found a full batch.
   */
  fresh(): PostgresLockStore;
}

function subject(): Subject {
  const pool = newPool({ max: 1 });
  cleanup.push(() => pool.end());
  const table = uniqueTable('release_work');
  cleanup.push(() => dropTable(pool, table));
  const sent: SentQuery[] = [];
  pool.on('connect', (client) => {
    const target = client as unknown as { query: (...args: unknown[]) => unknown };
    const original = target.query.bind(client);
    target.query = (...args: unknown[]) => {
      const [config] = args as [{ text?: unknown; values?: unknown[] } | string];
      if (typeof config === 'object' && typeof config.text === 'string') {
        sent.push({ text: config.text, values: config.values ?? [] });
      }
      return original(...args);
    };
  });
  const fresh = (): PostgresLockStore => {
    const made = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => made.close());
    return made;
  };
  return { pool, table, store: fresh(), sent, fresh };
}

/** One recorded run of `job` through the store; resolves with the release statement it sent. */
async function recordedRun(
  s: Subject,
  scheduledAt: number,
  store = s.store,
  historySize = HISTORY_SIZE,
): Promise<SentQuery> {
  let before = 0;
  await recordRun(
    store,
    { name: 'job', scheduledAt, historySize, ttl: MINUTE },
    () => (before = s.sent.length),
  );
  const release = s.sent.slice(before).find((query) => query.text.includes('_release"('));
  if (!release) throw new Error('the release statement was not captured');
  return release;
}

/**
 * The captured statement run on a connection of its own, whose statements are planned as `mode`
 * says: a cached plan (the function's statements' too) is planned for its values on its first runs
 * (custom), then once for any values (generic), and that plan is kept until the tables'
 * statistics change.
 */
async function prepareExplained(s: Subject, query: SentQuery, mode: PlanMode): Promise<Explained> {
  const pool = newPool({ max: 1 });
  cleanup.push(() => pool.end());
  const client = await pool.connect();
  cleanup.push(async () => client.release());
  await client.query(`SET plan_cache_mode = ${mode}`);
  const read = async (): Promise<number> => {
    await client.query('BEGIN');
    try {
      await client.query(query.text, query.values);
      const { rows } = await client.query<{ n: string }>(
        `SELECT sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)) AS n
         FROM pg_stat_xact_user_tables WHERE relname = ANY ($1::text[])`,
        [[s.table, `${s.table}_history`]],
      );
      return Number(rows[0]?.n ?? 0);
    } finally {
      await client.query('ROLLBACK');
    }
  };
  return { mode, read };
}

interface Explained {
  mode: PlanMode;
  /** Runs the statement, rolled back, and counts the rows it read from both tables. */
  read(): Promise<number>;
}

type PlanMode = 'force_custom_plan' | 'force_generic_plan';
const PLAN_MODES: PlanMode[] = ['force_custom_plan', 'force_generic_plan'];

async function count(s: Subject, relation: string, where = 'true'): Promise<number> {
  const { rows } = await s.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${relation}" WHERE ${where}`,
  );
  return Number(rows[0]?.n);
}

/** Other jobs' rows and history entries; the first `expired` of each with their state expired. */
async function fillOthers(s: Subject, expired: number): Promise<void> {
  await s.pool.query(
    `INSERT INTO "${s.table}" (name, fence, state_expires_at)
     SELECT 'other-' || i, 1,
       CASE WHEN i <= ${expired} THEN now() - interval '1 day' ELSE now() + interval '1 day' END
     FROM generate_series(1, ${OTHER_JOBS}) i`,
  );
  await s.pool.query(
    `INSERT INTO "${s.table}_history" (name, entry, expires_at)
     SELECT 'other-' || (i % ${OTHER_JOBS}), '{}',
       CASE WHEN i <= ${expired} THEN now() - interval '1 day' ELSE now() + interval '1 day' END
     FROM generate_series(1, ${OTHER_ENTRIES}) i`,
  );
}

async function analyze(s: Subject): Promise<void> {
  await s.pool.query(`ANALYZE "${s.table}"`);
  await s.pool.query(`ANALYZE "${s.table}_history"`);
}

/** The release statement of a job with a full history, prepared in both planning modes. */
async function preparedRelease(s: Subject, historySize = HISTORY_SIZE): Promise<Explained[]> {
  // Runs first, so that the job has a history to trim.
  for (let i = 0; i < historySize + 2; i++) {
    await recordedRun(s, OCCURRENCE + i * MINUTE, s.store, historySize);
  }
  // By a store of its own, whose first release sweeps: the statement captured carries the sweeps.
  const release = await recordedRun(
    s,
    OCCURRENCE + (historySize + 100) * MINUTE,
    s.fresh(),
    historySize,
  );
  expect(release.values.at(-1), 'the release sweeps').toBe(true);
  return Promise.all(PLAN_MODES.map((mode) => prepareExplained(s, release, mode)));
}

/** In every planning mode, the release reads a bounded number of rows from both tables. */
async function expectFewRowsRead(s: Subject, explained: Explained[]): Promise<void> {
  for (const { mode, read } of explained) {
    // Twice: the first run plans the function's statements, reading the catalogs, not the tables.
    await read();
    expect(await read(), mode).toBeLessThan(READ_BOUND);
  }
}

describe('PostgresLockStore release: what it reads', () => {
  it('reads no more of the tables once other jobs have many rows and history entries', async () => {
    const s = subject();
    const explained = await preparedRelease(s);
    await fillOthers(s, 0);
    // Planned again for the tables as they are now, as autovacuum's statistics would have it.
    await analyze(s);

    await expectFewRowsRead(s, explained);
    // Rolled back: the job's history as its last release left it, the others' rows all there.
    expect(await count(s, `${s.table}_history`, `name = 'job'`)).toBe(HISTORY_SIZE);
    expect(await count(s, `${s.table}_history`)).toBe(OTHER_ENTRIES + HISTORY_SIZE);
  });

  it("reads no more of the history when a few other jobs wrote many entries since the job's", async () => {
    // A few jobs with long histories: with their statistics, a walk over the job's newest entries
    // could go down the table's ids, every job's entries, newest first, where the job's are older.
    const s = subject();
    const explained = await preparedRelease(s, 100);
    await s.pool.query(
      `INSERT INTO "${s.table}_history" (name, entry, expires_at)
       SELECT 'other-' || (i % 20), repeat('x', 150), now() + interval '1 day'
       FROM generate_series(1, 4000) i`,
    );
    await analyze(s);

    await expectFewRowsRead(s, explained);
  });

  it('sweeps a few expired rows and entries per release without reading the live ones', async () => {
    const s = subject();
    const explained = await preparedRelease(s);
    await fillOthers(s, 100);
    await analyze(s);

    await expectFewRowsRead(s, explained);
    await recordedRun(s, OCCURRENCE + 200 * MINUTE, s.fresh());
    // The store's own release took 16 of each, and only expired ones.
    expect(await count(s, s.table)).toBe(OTHER_JOBS + 1 - 16);
    expect(await count(s, `${s.table}_history`, 'expires_at < now()')).toBe(100 - 16);
    expect(await count(s, `${s.table}_history`, 'expires_at >= now()')).toBe(
      OTHER_ENTRIES - 100 + HISTORY_SIZE,
    );
  });

  it('sweeps a backlog a full batch per release, one release after another', async () => {
    const s = subject();
    for (let i = 0; i < HISTORY_SIZE; i++) {
      await recordedRun(s, OCCURRENCE + i * MINUTE);
    }
    await fillOthers(s, 40);
    const expired = async (): Promise<number[]> => [
      await count(s, s.table, 'state_expires_at < now()'),
      await count(s, `${s.table}_history`, 'expires_at < now()'),
    ];
    const store = s.fresh();
    const left: number[][] = [await expired()];
    for (let i = 1; i <= 4; i++) {
      await recordedRun(s, OCCURRENCE + (100 + i) * MINUTE, store);
      left.push(await expired());
    }
    // A full batch (16) is followed by another sweep at once, until less than a batch was left.
    expect(left).toEqual([
      [40, 40],
      [24, 24],
      [8, 8],
      [0, 0],
      [0, 0],
    ]);
  });
});
