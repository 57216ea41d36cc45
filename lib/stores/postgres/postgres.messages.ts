/* Messages of PostgresLockStore (nestjs-cron-lock/postgres), beside the store that says them. */
import { describeValue } from '../../utils/describe-value.js';

export const INVALID_POSTGRES_IDENTIFIER = (option: string, value: unknown): string =>
  `PostgresLockStore.constructor: ${option} ${describeValue(value)} is not allowed. ` +
  `Fix: use 1 to 40 characters among a-z 0-9 _, not starting with a digit (it is quoted, never interpolated raw).`;

export const INVALID_POSTGRES_INPUT = (value: unknown): string =>
  `PostgresLockStore.constructor: expected a pg Pool or a postgres:// connection string, got ${
    typeof value === 'string' ? 'an empty or non-postgres string' : typeof value
  }. Fix: pass new Pool({ connectionString }) from 'pg', or the connection string itself.`;

export const POSTGRES_CLIENT_NOT_POOL =
  'PostgresLockStore.constructor: got a pg Client, which is one connection: the store runs ' +
  'statements of several jobs at once and keeps a connection of its own for triggers. ' +
  "Fix: pass new Pool({ connectionString }) from 'pg' (the store never ends it), or the connection string itself.";

export const INVALID_POSTGRES_OPTION = (option: string, expected: string, value: unknown): string =>
  `PostgresLockStore.constructor: ${option} must be ${expected}, got ${describeValue(value)}.`;

/** Where the schema is shipped, as an app resolves it (`require.resolve` gives its path). */
const SCHEMA_SQL = 'nestjs-cron-lock/postgres/schema.sql';

export const POSTGRES_TABLE_MISSING = (table: string): string =>
  `lock table ${table} does not exist and createTable is false. ` +
  `Fix: apply ${SCHEMA_SQL} as the table's owner, or set createTable: true.`;

/*
 * The three refusals below reach a run's store-error line and event, which keep 300 characters of
 * a store error's message (and, past them, its `Fix:` sentence): with the default names each fits
 * whole, so the operator reads the fix on the line itself.
 */

export const POSTGRES_TABLE_OUTDATED = (table: string, columns: readonly string[]): string =>
  `lock table ${table} lacks this version's columns (${columns.join(', ')}) or its history, ` +
  `and createTable is false. ` +
  `Fix: apply ${SCHEMA_SQL} again as its owner, or set createTable: true.`;

/** `functions`: the functions' suffixes (`acquire` for `<table>_acquire`). */
export const POSTGRES_FUNCTIONS_OUTDATED = (table: string, functions: readonly string[]): string =>
  `lock table ${table} lacks this version's functions (${table}_${functions.join(', _')}: ` +
  `missing, older, or not owned by the table's owner) and createTable is false. ` +
  `Fix: apply ${SCHEMA_SQL} again as its owner, or set createTable: true.`;

export const POSTGRES_CREATE_DENIED = (table: string, history: string, detail: string): string =>
  `cannot create lock table ${table}: ${detail}. Fix: apply ${SCHEMA_SQL} as a role with ` +
  `CREATE on the schema, then set createTable: false (the app then needs SELECT, INSERT, ` +
  `UPDATE, DELETE on ${table} and ${history}).`;

export const POSTGRES_TRIGGERS_CLOSED =
  'the trigger channel was closed before it listened (the store or the last subscription closed meanwhile)';

/** Short enough to be logged whole (a store error is cut at 300 characters). */
export const POSTGRES_TRIGGERS_UNHEARD = (timeout: number): string =>
  `notifications did not arrive on the listening connection within ${timeout}ms, as behind a pooler ` +
  `in transaction mode: the connection keeps no session. Fix: point the store at PostgreSQL directly ` +
  `or through a pooler in session mode for triggers (or leave triggers unused)`;

export const POSTGRES_TRIGGERS_LISTENER_LOST =
  'the listening connection closed while it was checked for notifications';

/** `why`: what kept the check from running. */
export const POSTGRES_TRIGGERS_UNCHECKED = (why: string): string =>
  `trigger channel: listening, not checked that notifications arrive (${why})`;

const CHECK_DATABASE = 'check that PostgreSQL is up and reachable from this instance';
const GROW_POOL = "raise the pool's max, or give the lock store a pool of its own";

/**
 * `max`: the pool's size when every connection of it was in use or opening (the database not
 * answering them, or the app keeping them: both, the database first, since an outage fills a
 * pool too); `null` when the pool had room, so only the database kept a new one from coming;
 * `undefined` for a pool that does not tell.
 */
export const POSTGRES_POOL_EXHAUSTED = (timeout: number, max?: number | null): string =>
  `no PostgreSQL connection from the pool within ${timeout}ms ` +
  (max === null
    ? `(the pool had room, and the database did not accept a new connection: down, unreachable or not answering). Fix: ${CHECK_DATABASE}.`
    : `(${max === undefined ? 'database unreachable or pool exhausted' : `all ${max} connection(s) of the pool in use or opening`}). ` +
      `Fix: ${CHECK_DATABASE}; if it is, ${GROW_POOL}.`);

/**
 * Said after a `25006` (a statement refused in a read-only transaction). Short enough for the whole
 * description to be logged (a store error is cut at 300 characters).
 */
export const POSTGRES_READ_ONLY =
  'the server is read-only (a hot standby, as an old primary after a failover, or ' +
  'default_transaction_read_only on for the role). Fix: point the store at the primary, with that ' +
  'setting off for its role';

export const POSTGRES_NO_ANSWER = (timeout: number): string =>
  `no answer from PostgreSQL within ${timeout}ms; the connection was discarded`;

export const POSTGRES_PREPARED_STATEMENTS_OFF = (detail: string): string =>
  `PostgreSQL lost a prepared statement of the lock store (${detail}): a pooler in transaction mode ` +
  `that does not keep prepared statements. The store now sends unnamed statements, which costs a ` +
  `parse and a plan per operation. Fix: PgBouncer 1.21+ with max_prepared_statements, or ` +
  `preparedStatements: false to start that way.`;

export const POSTGRES_ANSWER_UNREAD = (operation: 'acquire' | 'release'): string =>
  `PostgresLockStore.${operation}: the table's ${operation} function answers in a form this ` +
  `version does not read (another build's). Fix: start an instance with createTable: true, or ` +
  `drop <table>_acquire and <table>_release as their owner and apply this version's schema.sql.`;
