import { LockStoreError } from '../../cron-lock.errors.js';
import {
  POSTGRES_CREATE_DENIED,
  POSTGRES_TABLE_MISSING,
  POSTGRES_TABLE_OUTDATED,
} from './postgres.messages.js';
import {
  connectWithin,
  runStatement,
  timedQuery,
  type PostgresPool,
} from './postgres-connection.js';
import { keepsConnection, sqlState } from './postgres-errors.js';
import { createTableSql, type LockTable } from './postgres-table.js';

/**
 * Key of the transaction-level advisory lock that serialises schema creation: two instances
 * starting at once would otherwise race `CREATE TABLE IF NOT EXISTS` into a unique violation on
 * the catalog. Transaction-level (`pg_advisory_xact_lock`), never session-level: it is released by
 * the commit on the same server connection, which holds behind PgBouncer in transaction mode.
 */
const SCHEMA_LOCK_KEY = '7261436172';

/** Columns added after the first version: a table without them is brought up to date. */
const ADDED_COLUMNS = [
  'paused_at',
  'pause_reason',
  'paused_until',
  'cron',
  'time_zone',
  'queued',
  'merged',
  'repl',
];

/**
 * Makes sure the lock table exists and is up to date (overlap and fleet-control columns, history table),
 * creating or completing it when allowed. Checks first (`to_regclass`), so an
 * app role without DDL rights works once the table was created from `schema.sql`, and an existing
 * table costs one read at startup.
 *
 * The creation is one transaction on one connection: the advisory lock is held until the table,
 * its columns, its indexes and the history table exist.
 *
 * Its refusals (no table or an earlier one with `createTable: false`, no right to create it) are
 * `answered`: no statement of the store ran before this check passed, so nothing an operation
 * failed here may have taken is left to free, and sending the release of a failed acquisition
 * again would only repeat the refusal (see `LockStoreError.answered`).
 */
export async function ensureLockTable(
  pool: PostgresPool,
  table: LockTable,
  createTable: boolean,
  timeout: number,
): Promise<void> {
  const [found] = await runStatement<SchemaCheck>(pool, checkSql, checkValues(table), timeout);
  if (found?.has_table && found.up_to_date) {
    return;
  }
  if (!createTable) {
    throw new LockStoreError(
      found?.has_table
        ? POSTGRES_TABLE_OUTDATED(table.display, ADDED_COLUMNS)
        : POSTGRES_TABLE_MISSING(table.display),
      { answered: true },
    );
  }
  // CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege on the database even when the schema
  // exists: only sent when it does not.
  const createSchema = found?.has_schema ? '' : `CREATE SCHEMA IF NOT EXISTS "${table.schema}";\n`;
  const ddl = createSchema + createTableSql(table);
  const ddlTimeout = Math.max(timeout, 10_000);
  const lease = await connectWithin(pool, timeout);
  let broken = false;
  try {
    // Checked again under the lock: an instance that waited while another created or completed
    // the table must not run the DDL again. ALTER TABLE takes the table's exclusive lock even when
    // every column exists, and instances already acquiring (the table locked, then the history
    // table) would deadlock with it.
    await lease.client.query(timedQuery('BEGIN', undefined, ddlTimeout));
    try {
      await lease.client.query(
        timedQuery(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_KEY})`, undefined, ddlTimeout),
      );
      const again = await lease.client.query<SchemaCheck>(
        timedQuery(checkSql, checkValues(table), ddlTimeout),
      );
      if (!(again.rows[0]?.has_table && again.rows[0].up_to_date)) {
        await lease.client.query(timedQuery(ddl, undefined, ddlTimeout));
      }
      await lease.client.query(timedQuery('COMMIT', undefined, ddlTimeout));
    } catch (error) {
      await lease.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } catch (error) {
    broken = !keepsConnection(error);
    if (sqlState(error) === '42501') {
      throw new LockStoreError(
        POSTGRES_CREATE_DENIED(
          table.display,
          table.historyDisplay,
          'permission denied (SQLSTATE 42501)',
        ),
        { answered: true },
      );
    }
    throw error;
  } finally {
    lease.release(broken);
  }
}

interface SchemaCheck {
  has_table: boolean;
  has_schema: boolean;
  up_to_date: boolean;
}

/** Whether the table, its schema, its fleet-control columns and its history table exist. */
const checkSql = `SELECT to_regclass($1) IS NOT NULL AS has_table,
  to_regnamespace($2) IS NOT NULL AS has_schema,
  to_regclass($3) IS NOT NULL AND (SELECT count(*) FROM pg_attribute
    WHERE attrelid = to_regclass($1) AND attname = ANY ($4::text[]) AND NOT attisdropped) = $5
  AS up_to_date`;

function checkValues(table: LockTable): unknown[] {
  return [table.qualified, `"${table.schema}"`, table.history, ADDED_COLUMNS, ADDED_COLUMNS.length];
}
