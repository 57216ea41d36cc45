import { CronLockConfigError } from '../../cron-lock.errors.js';
import { INVALID_POSTGRES_IDENTIFIER } from '../../cron-lock.messages.js';

/** Default schema of the lock table. */
export const DEFAULT_POSTGRES_SCHEMA = 'public';
/** Default name of the lock table. */
export const DEFAULT_POSTGRES_TABLE = 'cron_lock';

/**
 * Allowed schema and table names: lower case so that the quoted and unquoted spellings name the
 * same object, and at most 40 characters so that the index name built from the table name stays
 * under PostgreSQL's 63-byte limit (a longer one would be truncated silently, and two tables could
 * then share one index name).
 */
export const POSTGRES_IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]{0,39}$/;

/** Where the locks live: the quoted names every statement is built from. */
export interface LockTable {
  /** `"schema"."table"`, quoted, for SQL text. */
  readonly qualified: string;
  /** `schema.table` unquoted, for messages and `to_regclass()`. */
  readonly display: string;
  readonly schema: string;
  readonly table: string;
  /** `"table_state_expires_idx"`, quoted. */
  readonly expiryIndex: string;
}

/**
 * Validates the schema and table names and quotes them. Names are checked against
 * {@link POSTGRES_IDENTIFIER_PATTERN} and then double-quoted, so nothing the caller passes is
 * ever interpolated raw into SQL; values always travel as bind parameters.
 */
export function lockTable(schema: unknown, table: unknown): LockTable {
  const schemaName = identifier('schema', schema, DEFAULT_POSTGRES_SCHEMA);
  const tableName = identifier('table', table, DEFAULT_POSTGRES_TABLE);
  return {
    qualified: `"${schemaName}"."${tableName}"`,
    display: `${schemaName}.${tableName}`,
    schema: schemaName,
    table: tableName,
    expiryIndex: `"${tableName}_state_expires_idx"`,
  };
}

function identifier(option: string, value: unknown, fallback: string): string {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'string' || !POSTGRES_IDENTIFIER_PATTERN.test(value)) {
    throw new CronLockConfigError(INVALID_POSTGRES_IDENTIFIER(option, value));
  }
  return value;
}

/**
 * The lock table: one row per job, holding its lock (`token`, `holder`, `expires_at`) and its
 * state (occurrence marker `tick`, fencing token `fence`, run history). Times the database decides
 * (`expires_at`, `state_expires_at`) are `timestamptz` from `clock_timestamp()`; times the
 * instances report (`tick`, `ok_at`, `end_at`) are ms since epoch, as the Redis store keeps them.
 *
 * `fillfactor` leaves room on each page so that the frequent updates (acquire, renew, release)
 * stay heap-only tuple updates: none of them changes an indexed column except the rare refresh of
 * `state_expires_at`.
 *
 * Kept identical to `schema.sql` for the default names (a test compares them). `upgrade: false`
 * leaves out the `ALTER TABLE` lines, which a new table does not need: the store creating a table
 * while other instances already use it must not wait for an exclusive lock behind them.
 */
export function createTableSql(table: LockTable, upgrade = true): string {
  return `CREATE TABLE IF NOT EXISTS ${table.qualified} (
  name text PRIMARY KEY,
  token text,
  holder text,
  expires_at timestamptz,
  tick bigint,
  fence bigint NOT NULL DEFAULT 0,
  ok_at bigint,
  ok_ms bigint,
  fails integer NOT NULL DEFAULT 0,
  outcome text,
  end_at bigint,
  state_expires_at timestamptz NOT NULL,
  queued bigint,
  merged bigint,
  repl text
) WITH (fillfactor = 70);
CREATE INDEX IF NOT EXISTS ${table.expiryIndex} ON ${table.qualified} (state_expires_at);
${upgrade ? addColumnsSql(table) : ''}`;
}

/**
 * Columns added after the table's first release, with their types: a table made by an earlier
 * version gets them from {@link addColumnsSql} (run by the store when allowed to, and part of
 * `schema.sql`). `queued`, `merged`, `repl`: the overlap policies (see acquireSql).
 */
export const ADDED_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['queued', 'bigint'],
  ['merged', 'bigint'],
  ['repl', 'text'],
];

/** Brings a table made by an earlier version up to date; a no-op on a current one. */
export function addColumnsSql(table: LockTable): string {
  return ADDED_COLUMNS.map(
    ([column, type]) =>
      `ALTER TABLE ${table.qualified} ADD COLUMN IF NOT EXISTS ${column} ${type};\n`,
  ).join('');
}
