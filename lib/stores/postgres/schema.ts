import { LockStoreError } from '../../cron-lock.errors.js';
import {
  POSTGRES_CREATE_DENIED,
  POSTGRES_FUNCTIONS_OUTDATED,
  POSTGRES_TABLE_MISSING,
  POSTGRES_TABLE_OUTDATED,
} from './postgres.messages.js';
import { FUNCTIONS_VERSION, functionSignatures, functionsSql, MARK_PREFIX } from './functions.js';
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

/** The schema's functions, by their suffix to the table's name (`<table>_acquire`). */
export const FUNCTION_SUFFIXES = ['acquire', 'release', 'trim'] as const;

/** Columns added after the first version: a table without them is brought up to date. */
export const ADDED_COLUMNS = [
  'paused_at',
  'pause_reason',
  'paused_until',
  'cron',
  'time_zone',
  'queued',
  'merged',
  'repl',
  'history_seq',
  'history_low',
];

/**
 * Makes sure the lock table exists and is up to date (overlap and fleet-control columns, history
 * table, the cron path's functions at this version or a later one), creating or completing it when
 * allowed. Checks first (`to_regclass`), so an app role without DDL rights works once the table
 * was created from `schema.sql`, and an existing table costs one read at startup.
 *
 * The creation is one transaction on one connection: the advisory lock is held until the table,
 * its columns, its indexes, the history table and the functions exist. The lock also keeps two
 * instances from replacing the functions at once (`CREATE OR REPLACE FUNCTION` run concurrently
 * fails with "tuple concurrently updated"). Tables that are up to date with functions missing or
 * of an earlier version get the functions alone: no lock on the tables, which
 * instances of that build may be using meanwhile.
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
  if (isCurrent(found, createTable)) {
    return;
  }
  if (!createTable) {
    throw new LockStoreError(
      !found?.has_table
        ? POSTGRES_TABLE_MISSING(table.display)
        : found.up_to_date
          ? POSTGRES_FUNCTIONS_OUTDATED(table.display, FUNCTION_SUFFIXES)
          : POSTGRES_TABLE_OUTDATED(table.display, ADDED_COLUMNS),
      { answered: true },
    );
  }
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
      if (!isCurrent(again.rows[0], createTable)) {
        await lease.client.query(
          timedQuery(schemaDdl(table, again.rows[0]), undefined, ddlTimeout),
        );
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

/**
 * What brings the schema up to date, from what the check under the schema lock found. CREATE
 * SCHEMA IF NOT EXISTS checks the CREATE privilege on the database even when the schema exists:
 * only sent when it does not. CREATE OR REPLACE cannot change what a function answers: functions
 * answering another type are dropped first, in the same transaction, so no instance sees them
 * missing.
 */
function schemaDdl(table: LockTable, found: SchemaCheck | undefined): string {
  const createSchema = found?.has_schema ? '' : `CREATE SCHEMA IF NOT EXISTS "${table.schema}";\n`;
  const signatures = functionSignatures(table);
  const dropOther = found?.functions_answer_other
    ? `DROP FUNCTION IF EXISTS ${signatures.acquire}, ${signatures.release};\n`
    : '';
  return (
    dropOther +
    (found?.has_table && found.up_to_date
      ? functionsSql(table)
      : createSchema + createTableSql(table))
  );
}

interface SchemaCheck {
  has_table: boolean;
  has_schema: boolean;
  up_to_date: boolean;
  functions_current: boolean;
  functions_answer_other: boolean;
}

/**
 * Whether the table and its functions serve this version as they are. Functions that answer
 * another type than a text (an unreleased build's result columns, marked with this version) are
 * replaced when the store may create; otherwise the store runs, and the first call refuses their
 * answer with the fix (see `POSTGRES_ANSWER_UNREAD`), which a refusal here could not name:
 * `schema.sql` alone cannot replace them either.
 */
function isCurrent(found: SchemaCheck | undefined, createTable: boolean): boolean {
  return (
    found?.has_table === true &&
    found.up_to_date &&
    found.functions_current &&
    !(createTable && found.functions_answer_other)
  );
}

/**
 * Whether the table, its schema, its fleet-control columns and its history table exist, and
 * whether the functions exist at this version or a later one (their comment's number; see
 * FUNCTIONS_VERSION): a missing function or a comment of another form counts as version 0. Only
 * functions owned by the table's owner count: the comment is anyone's to write, and functions
 * another role made (ahead of the store, with a high number) would otherwise run as the store's.
 * And whether either answers another type than a text (see isCurrent).
 */
const checkSql = `SELECT to_regclass($1) IS NOT NULL AS has_table,
  to_regnamespace($2) IS NOT NULL AS has_schema,
  to_regclass($3) IS NOT NULL AND (SELECT count(*) FROM pg_attribute
    WHERE attrelid = to_regclass($1) AND attname = ANY ($4::text[]) AND NOT attisdropped) = $5
  AS up_to_date,
  (SELECT bool_and(coalesce(substring(obj_description(p.oid, 'pg_proc') FROM $8)::int, 0) >= $9
      AND p.proowner IS NOT DISTINCT FROM (SELECT relowner FROM pg_class WHERE oid = to_regclass($1)))
    FROM (VALUES (to_regprocedure($6)), (to_regprocedure($7)), (to_regprocedure($10))) AS f(oid)
      LEFT JOIN pg_proc AS p ON p.oid = f.oid) AS functions_current,
  EXISTS (SELECT FROM pg_proc WHERE oid IN (to_regprocedure($6), to_regprocedure($7))
    AND prorettype <> 'pg_catalog.text'::pg_catalog.regtype) AS functions_answer_other`;

function checkValues(table: LockTable): unknown[] {
  const signatures = functionSignatures(table);
  return [
    table.qualified,
    `"${table.schema}"`,
    table.history,
    ADDED_COLUMNS,
    ADDED_COLUMNS.length,
    signatures.acquire,
    signatures.release,
    `^${MARK_PREFIX}([0-9]{1,9})$`,
    FUNCTIONS_VERSION,
    signatures.trim,
  ];
}
