// A named type import: the declarations of `import pg from 'pg'` need esModuleInterop in the app.
import type { Pool } from 'pg';
import { CronLockConfigError } from '../../cron-lock.errors.js';
import { INVALID_POSTGRES_OPTION, POSTGRES_CLIENT_NOT_POOL } from './postgres.messages.js';
import { MAX_DURATION_MS } from '../../utils/duration.js';
import { secretsOfConnectionString } from './postgres-errors.js';
import { rejectEmptyOptions } from '../../utils/empty-options.js';
import { checkLoggerOption, checkOptionKeys } from '../../utils/option-keys.js';

/** Bound of one operation (waiting for a pooled connection included), as the Redis store's commandTimeout. */
const DEFAULT_OPERATION_TIMEOUT_MS = 2_000;

/** Whether `value` is a `pg` pool (duck-typed: another copy of `pg` makes other classes). */
export function isPool(value: unknown): value is Pool {
  const pool = value as Partial<Pool> | null;
  return (
    typeof pool === 'object' &&
    pool !== null &&
    typeof pool.connect === 'function' &&
    typeof pool.end === 'function'
  );
}

/**
 * Whether `value` is a `pg` `Client` (also a `PoolClient` a pool lent): it has `connect()` and
 * `end()` as a pool has, but one connection, which `connect()` opens instead of lending. Its
 * `connectionParameters` and `processID` are what no pool has (duck-typed, as {@link isPool}).
 */
function isClient(value: unknown): boolean {
  const client = value as { connectionParameters?: unknown; processID?: unknown } | null;
  return (
    typeof client === 'object' &&
    client !== null &&
    typeof client.connectionParameters === 'object' &&
    client.connectionParameters !== null &&
    'processID' in client
  );
}

/**
 * Refuses a `pg` `Client` when the store is built: taken for a pool, every operation would fail
 * later with the driver's "cannot reuse a client" (or a TypeError, from the `undefined` an
 * unconnected client's `connect()` resolves with), a message that names neither the store nor
 * the fix.
 */
export function rejectClient(value: unknown): void {
  if (isClient(value)) {
    throw new CronLockConfigError(POSTGRES_CLIENT_NOT_POOL);
  }
}

/** The password and connection string of a pool passed in, hidden in errors all the same. */
export function secretsOfPool(pool: Pool): string[] {
  const options = (pool as { options?: { password?: unknown; connectionString?: unknown } })
    .options;
  const secrets: string[] = [];
  if (typeof options?.connectionString === 'string' && options.connectionString !== '') {
    secrets.push(...secretsOfConnectionString(options.connectionString));
  }
  if (typeof options?.password === 'string' && options.password !== '') {
    secrets.push(options.password);
  }
  return secrets;
}

export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'boolean') {
    throw new CronLockConfigError(INVALID_POSTGRES_OPTION(name, 'true or false', value));
  }
  return value;
}

export function timeoutOption(value: unknown): number {
  if (value === undefined) {
    return DEFAULT_OPERATION_TIMEOUT_MS;
  }
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value <= 0 ||
    value > MAX_DURATION_MS
  ) {
    throw new CronLockConfigError(
      INVALID_POSTGRES_OPTION(
        'operationTimeout',
        `an integer of ms from 1 to ${MAX_DURATION_MS}`,
        value,
      ),
    );
  }
  return value;
}

/** What leaving each option out gives, for the error on one present but empty. */
const OPTION_DEFAULTS: Readonly<Record<string, string>> = {
  schema: 'the default public',
  table: 'the default cron_lock',
  createTable: 'the default true',
  operationTimeout: 'the default 2000',
  preparedStatements: 'the default true',
  logger: "Nest's Logger",
};

/**
 * An object of known keys (a misspelt `tabel` would put apps meant to be apart in the default
 * table), none present but undefined or null (`{ schema: config.get('LOCK_SCHEMA') }` unset is an
 * error, never its default, for the same reason), and a logger that logs.
 */
export function checkStoreOptions(options: unknown): void {
  const where = 'PostgresLockStore.constructor';
  checkOptionKeys(where, options, Object.keys(OPTION_DEFAULTS), "{ table: 'my_app_locks' }");
  rejectEmptyOptions(where, options as object, OPTION_DEFAULTS);
  checkLoggerOption(where, (options as { logger?: unknown }).logger);
}
