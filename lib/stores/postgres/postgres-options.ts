import pg from 'pg';
import { CronLockConfigError } from '../../cron-lock.errors.js';
import { INVALID_POSTGRES_OPTION } from './postgres.messages.js';
import { MAX_DURATION_MS } from '../../utils/duration.js';
import { secretsOfConnectionString } from './postgres-errors.js';
import { rejectEmptyOptions } from '../../utils/empty-options.js';

/** Bound of one operation (waiting for a pooled connection included), as the Redis store's commandTimeout. */
const DEFAULT_OPERATION_TIMEOUT_MS = 2_000;

/** Whether `value` is a `pg` pool (duck-typed: another copy of `pg` makes other classes). */
export function isPool(value: unknown): value is pg.Pool {
  const pool = value as Partial<pg.Pool> | null;
  return (
    typeof pool === 'object' &&
    pool !== null &&
    typeof pool.connect === 'function' &&
    typeof pool.end === 'function'
  );
}

/** The password and connection string of a pool passed in, hidden in errors all the same. */
export function secretsOfPool(pool: pg.Pool): string[] {
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

/**
 * An option present but undefined or null (`{ schema: config.get('LOCK_SCHEMA') }` unset) is an
 * error, never its default: apps meant to be apart would share the default table.
 */
export function rejectEmptyStoreOptions(options: object): void {
  rejectEmptyOptions('PostgresLockStore.constructor', options, {
    schema: 'the default public',
    table: 'the default cron_lock',
    createTable: 'the default true',
    operationTimeout: 'the default 2000',
    preparedStatements: 'the default true',
    logger: "Nest's Logger",
  });
}
