// The store's acquire and release statements come in shapes that leave out the steps a request
// cannot need. Every shape is still sent with all nine values, so the server must be able to tell
// each parameter's type from the text, also where the shape no longer uses it. The cron path's
// calls of the schema's functions take theirs from the functions' signatures.
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireSql, type AcquireShape } from '../../lib/stores/postgres/acquire.js';
import { acquireCallSql, releaseCallSql } from '../../lib/stores/postgres/function-calls.js';
import { lockTable } from '../../lib/stores/postgres/postgres-table.js';
import { releaseSql, type ReleaseShape } from '../../lib/stores/postgres/release.js';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

const ACQUIRE_SHAPES: AcquireShape[] = [false, true].map((history) => ({ history }));
const RELEASE_SHAPES: ReleaseShape[] = [false, true].flatMap((refresh) =>
  [false, true].map((sweep) => ({ refresh, sweep })),
);

describe('PostgresLockStore statement shapes', () => {
  it("prepares every shape of the acquire and the release, and the functions' calls, with their parameters typed", async () => {
    const pool = newPool({ max: 1 });
    cleanup.push(() => pool.end());
    const name = uniqueTable('shapes');
    cleanup.push(() => dropTable(pool, name));
    const store = new PostgresLockStore(pool, { table: name, logger: false });
    cleanup.push(() => store.close());
    await store.inspect('job'); // creates the tables
    const table = lockTable('public', name);
    const texts: Array<[string, number]> = [
      ...ACQUIRE_SHAPES.map((shape): [string, number] => [acquireSql(table, shape), 9]),
      ...RELEASE_SHAPES.map((shape): [string, number] => [releaseSql(table, shape), 9]),
      [acquireCallSql(table), 8],
      [releaseCallSql(table), 11],
      [releaseCallSql(table, true), 11],
    ];
    const client = await pool.connect();
    try {
      for (const [i, [text, count]] of texts.entries()) {
        await client.query(`PREPARE shape_${i} AS ${text}`);
        const { rows } = await client.query<{ types: string[] }>(
          `SELECT parameter_types::text[] AS types FROM pg_prepared_statements WHERE name = $1`,
          [`shape_${i}`],
        );
        expect(rows[0]?.types, text).toHaveLength(count);
      }
    } finally {
      await client.query('DEALLOCATE ALL');
      client.release();
    }
  });
});
