import { LockStoreError } from '../../cron-lock.errors.js';
import {
  POSTGRES_CREATE_DENIED,
  POSTGRES_TABLE_MISSING,
  POSTGRES_TABLE_OUTDATED,
} from '../../cron-lock.messages.js';
import {
  connectWithin,
  runStatement,
  timedQuery,
  type PostgresPool,
} from './postgres-connection.js';
import { sqlState } from './postgres-errors.js';
import { ADDED_COLUMNS, addColumnsSql, createTableSql, type LockTable } from './postgres-table.js';

/**
 * Key of the transaction-level advisory lock that serialises schema creation: two instances
 * starting at once would otherwise race `CREATE TABLE IF NOT EXISTS` into a unique violation on
 * the catalog. Transaction-level (`pg_advisory_xact_lock`), never session-level: it is released by
 * the commit on the same server connection, which holds behind PgBouncer in transaction mode.
 */
const SCHEMA_LOCK_KEY = '7261436172';

/**
 * Makes sure the lock table exists, creating it when allowed. Checks first (`to_regclass`), so an
 * app role without DDL rights works once the table was created from `schema.sql`, and an existing
 * table costs one read at startup.
 *
 * The creation is one simple-protocol query of several statements: PostgreSQL runs them as one
 * implicit transaction, so the advisory lock is held until the table and its index exist.
 */
export async function ensureLockTable(
  pool: PostgresPool,
  table: LockTable,
  createTable: boolean,
  timeout: number,
): Promise<void> {
  const columns = ADDED_COLUMNS.map(([column]) => column);
  const [found] = await runStatement<{ has_table: boolean; has_schema: boolean; added: number }>(
    pool,
    'SELECT to_regclass($1) IS NOT NULL AS has_table, to_regnamespace($2) IS NOT NULL AS has_schema, ' +
      '(SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = ANY($3::text[]) ' +
      'AND NOT attisdropped)::int AS added',
    [table.qualified, `"${table.schema}"`, columns],
    timeout,
  );
  const upToDate = Number(found?.added) === columns.length;
  if (found?.has_table && upToDate) {
    return;
  }
  if (!createTable) {
    throw new LockStoreError(
      found?.has_table
        ? POSTGRES_TABLE_OUTDATED(table.display, columns)
        : POSTGRES_TABLE_MISSING(table.display),
    );
  }
  // CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege on the database even when the schema
  // exists: only sent when it does not. A table of an earlier version only gets its new columns.
  const createSchema = found?.has_schema ? '' : `CREATE SCHEMA IF NOT EXISTS "${table.schema}";\n`;
  const ddl =
    `SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_KEY});\n` +
    (found?.has_table ? addColumnsSql(table) : createSchema + createTableSql(table, false));
  const lease = await connectWithin(pool, timeout);
  let broken = false;
  try {
    await lease.client.query(timedQuery(ddl, undefined, Math.max(timeout, 10_000)));
  } catch (error) {
    broken = sqlState(error) === undefined;
    if (sqlState(error) === '42501') {
      throw new LockStoreError(
        POSTGRES_CREATE_DENIED(table.display, 'permission denied (SQLSTATE 42501)'),
      );
    }
    throw error;
  } finally {
    lease.release(broken);
  }
}
