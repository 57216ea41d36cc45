// A lock table made by an earlier version keeps working: the store adds the new columns (or,
// without DDL rights, says which ones and how to add them).
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { afterEach, describe, expect, it } from 'vitest';
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
      /lacks columns of this version \(.*queued, merged, repl\).*schema\.sql/,
    );
  });
});
