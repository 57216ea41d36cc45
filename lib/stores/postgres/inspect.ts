import { LOCK_NAME_PATTERN } from '../../cron-lock.constants.js';
import { LockStoreError } from '../../cron-lock.errors.js';
import type { StoredLockState } from '../lock-store.interface.js';
import { runStatement, type PostgresPool, type Statement } from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';
import { nextOccurrence } from '../../utils/next-occurrence.js';
import { POSTGRES_READ_ONLY } from './postgres.messages.js';

/**
 * Reads the lock's remaining life and the job's state at one instant of the database clock.
 * $1 name · returns one row, its job columns null when the job is unknown
 */
export function inspectSql(table: LockTable): string {
  return `SELECT l.holder, l.tick, l.fence, l.ok_at, l.ok_ms, l.fails, l.outcome, l.end_at,
  l.paused_at IS NOT NULL AND (l.paused_until IS NULL
    OR l.paused_until > floor(extract(epoch FROM c.now) * 1000)::bigint) AS paused,
  l.pause_reason, l.paused_until, l.cron, l.time_zone,
  CASE WHEN l.expires_at > c.now
    THEN floor(extract(epoch FROM (l.expires_at - c.now)) * 1000)::float8 END AS ttl_left
FROM (SELECT clock_timestamp() AS now) AS c LEFT JOIN ${table.qualified} AS l ON l.name = $1`;
}

/**
 * Also the list query of the CLI: every job name of the table (not the trigger claims, `~…`).
 * `COLLATE "C"`: sorted by byte, as Redis and the memory store sort (and the store contract
 * checks), whatever the database's collation (en-US puts `a_c` before `A.job`).
 */
export function jobNamesSql(table: LockTable): string {
  return `SELECT name FROM ${table.qualified} WHERE name NOT LIKE '~%' ORDER BY name COLLATE "C"`;
}

/**
 * {@link jobNamesSql}'s names that a lock can have: a row another caller left under a name the
 * store's methods refuse (a store of an earlier version took any) would fail every `inspect()` of
 * a listing, as RedisLockStore's `SCAN` leaves such keys out.
 */
export async function listJobNames(
  pool: PostgresPool,
  table: LockTable,
  timeout: number,
): Promise<string[]> {
  const rows = await runStatement<{ name: string }>(pool, jobNamesSql(table), [], timeout);
  return rows.map((row) => row.name).filter((name) => LOCK_NAME_PATTERN.test(name));
}

/** The owner token of the job's live lock, or `null` when it is free (an operator's release). */
export async function currentLockToken(
  pool: PostgresPool,
  table: LockTable,
  name: string,
  timeout: number,
): Promise<string | null> {
  const [row] = await runStatement<{ token: string | null }>(
    pool,
    `SELECT token FROM ${table.qualified} WHERE name = $1 AND expires_at > clock_timestamp()`,
    [name],
    timeout,
  );
  return row?.token ?? null;
}

interface InspectRow {
  holder: string | null;
  tick: string | null;
  fence: string | null;
  ok_at: string | null;
  ok_ms: string | null;
  fails: number | null;
  outcome: string | null;
  end_at: string | null;
  ttl_left: number | null;
  paused: boolean | null;
  pause_reason: string | null;
  paused_until: string | null;
  cron: string | null;
  time_zone: string | null;
}

/** Sends {@link inspectSql}. */
export async function inspectLock(
  pool: PostgresPool,
  sql: Statement,
  name: string,
  timeout: number,
): Promise<StoredLockState> {
  const [row] = await runStatement<InspectRow>(pool, sql, [name], timeout);
  const held = row?.ttl_left !== null && row?.ttl_left !== undefined;
  const fence = numberOrNull(row?.fence);
  const paused = row?.paused === true;
  return {
    name,
    holder: held ? (row.holder ?? null) : null,
    ttlLeft: held ? Math.max(0, Number(row.ttl_left)) : null,
    lastTick: numberOrNull(row?.tick),
    // 0: a row re-created by a release, never acquired since.
    fencingToken: fence !== null && fence > 0 ? fence : null,
    lastSuccessAt: numberOrNull(row?.ok_at),
    lastDurationMs: numberOrNull(row?.ok_ms),
    consecutiveFailures: numberOrNull(row?.fails) ?? 0,
    lastOutcome: row?.outcome === 'completed' || row?.outcome === 'failed' ? row.outcome : null,
    lastFinishedAt: numberOrNull(row?.end_at),
    paused,
    pauseReason: paused ? (row.pause_reason ?? null) : null,
    pausedUntil: paused ? numberOrNull(row.paused_until) : null,
    cron: row?.cron ?? null,
    timeZone: row?.time_zone ?? null,
    nextAt: nextOccurrence(row?.cron, row?.time_zone),
  };
}

/** A bigint column (text from `pg`) as a number; `null` when missing or not numeric. */
export function numberOrNull(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined || value === '') {
    return null;
  }
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : null;
}

/**
 * Rejects with a {@link LockStoreError} naming the fix when a session of the pool is read-only: a
 * hot standby (in recovery) or a role with `default_transaction_read_only` on. Read from the
 * session's settings, not tried with a write: it needs no right on the table.
 */
export async function checkWritable(pool: PostgresPool, timeout: number): Promise<void> {
  const [row] = await runStatement<{ read_only: boolean }>(
    pool,
    "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' AS read_only",
    [],
    timeout,
  );
  if (row?.read_only === true) {
    throw new LockStoreError(`PostgreSQL refuses writes: ${POSTGRES_READ_ONLY}`, {
      answered: true,
    });
  }
}
