import { CronLockConfigError } from '../../cron-lock.errors.js';
import { INVALID_POSTGRES_IDENTIFIER } from './postgres.messages.js';
import { functionsSql } from './functions.js';

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
  /** `"schema"."table_history"`: the jobs' history entries, quoted. */
  readonly history: string;
  /** `schema.table_history` unquoted, for `to_regclass()`. */
  readonly historyDisplay: string;
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
    history: `"${schemaName}"."${tableName}_history"`,
    historyDisplay: `${schemaName}.${tableName}_history`,
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
 * The fleet-control columns (a pause: `paused_at`, `pause_reason`, `paused_until` in ms since
 * epoch of the database clock; the schedule instances register: `cron`, `time_zone`) are added
 * with `ADD COLUMN IF NOT EXISTS`, so a table created by an earlier version gains them. The
 * history table holds one row per entry (JSON text), each with an expiry and its number in the
 * job's history (`seq`), taken from the job's row (`history_seq`, the last number; `history_low`,
 * the oldest not yet trimmed) by every writer under the row's lock (see history-trim.ts). The
 * entries of a table an earlier build made are not numbered here (that would rewrite the whole
 * history in the schema's transaction, with the lock table held): they keep 0, read as the oldest
 * (they are, unless an earlier build keeps writing during a rolling deploy: see the design notes),
 * and the first trim whose range reaches 0 deletes them.
 * `queued`, `merged`, `repl`: the overlap policies (see acquireSql), added the same way.
 *
 * Then the cron path's functions (`<table>_acquire`, `<table>_release`; see functions.ts), replaced
 * with `CREATE OR REPLACE`.
 *
 * Kept identical to `schema.sql` for the default names (a test compares them).
 */
export function createTableSql(table: LockTable): string {
  return tablesSql(table) + functionsSql(table);
}

/** The tables and their indexes, as createTableSql creates or completes them. */
export function tablesSql(table: LockTable): string {
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
  state_expires_at timestamptz NOT NULL
) WITH (fillfactor = 70);
CREATE INDEX IF NOT EXISTS ${table.expiryIndex} ON ${table.qualified} (state_expires_at);
ALTER TABLE ${table.qualified}
  ADD COLUMN IF NOT EXISTS paused_at bigint,
  ADD COLUMN IF NOT EXISTS pause_reason text,
  ADD COLUMN IF NOT EXISTS paused_until bigint,
  ADD COLUMN IF NOT EXISTS cron text,
  ADD COLUMN IF NOT EXISTS time_zone text,
  ADD COLUMN IF NOT EXISTS queued bigint,
  ADD COLUMN IF NOT EXISTS merged bigint,
  ADD COLUMN IF NOT EXISTS repl text,
  ADD COLUMN IF NOT EXISTS history_seq bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS history_low bigint NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS ${table.history} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  entry text NOT NULL,
  expires_at timestamptz NOT NULL
);
ALTER TABLE ${table.history} ADD COLUMN IF NOT EXISTS seq bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS "${table.table}_history_seq_idx" ON ${table.history} (name, seq);
DROP INDEX IF EXISTS "${table.schema}"."${table.table}_history_name_idx";
CREATE INDEX IF NOT EXISTS "${table.table}_history_expires_idx" ON ${table.history} (expires_at);
`;
}
