import type { JobSchedule, PauseRequest } from '../lock-store.interface.js';
import { runStatement, type PostgresPool } from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';
import { historyExpiryStep } from './history.js';
import { newestSeqSql } from './history-trim.js';

/**
 * Pauses a job: `paused_at` (database ms), `pause_reason`, `paused_until` on the job's row, where
 * the acquire statement reads them from the row it locks anyway. The row is created when missing
 * (a job paused before any instance ran it), and its expiry is pushed to at least the state ttl
 * from now, so the release's sweep cannot drop a pause of a job that is not running. The job's
 * history entries get the row's expiry where theirs is earlier: the acquisitions that follow find
 * more than half of it left and leave it alone, so the entries would expire first. A row it
 * creates numbers the job's entries on from its newest (they outlive a swept row), as every
 * insert of the row does.
 *
 * $1 name · $2 reason or null · $3 until ms or null · $4 state ttl ms
 */
export function pauseSql(table: LockTable): string {
  return `WITH clock AS MATERIALIZED (SELECT clock_timestamp() AS now),
paused AS (
INSERT INTO ${table.qualified} AS l
  (name, paused_at, pause_reason, paused_until, state_expires_at, history_seq)
SELECT $1, floor(extract(epoch FROM clock.now) * 1000)::bigint, $2::text, $3::bigint,
  clock.now + $4::float8 * interval '1 millisecond', ${newestSeqSql(table, '$1')}
FROM clock
ON CONFLICT (name) DO UPDATE SET
  paused_at = excluded.paused_at,
  pause_reason = excluded.pause_reason,
  paused_until = excluded.paused_until,
  state_expires_at = greatest(l.state_expires_at, excluded.state_expires_at)
RETURNING l.state_expires_at
)
${historyExpiryStep(table, '(SELECT state_expires_at FROM paused)')}`;
}

/**
 * Ends a pause; answers whether one was in force on the database clock (one whose `until` has
 * passed was over already). $1 name · returns was_paused
 */
export function resumeSql(table: LockTable): string {
  return `WITH cur AS MATERIALIZED (
  SELECT paused_at IS NOT NULL AND (paused_until IS NULL
    OR paused_until > floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) AS was_paused
  FROM ${table.qualified} WHERE name = $1 FOR UPDATE
),
resumed AS (
  UPDATE ${table.qualified} SET paused_at = NULL, pause_reason = NULL, paused_until = NULL
  WHERE name = $1 AND paused_at IS NOT NULL
)
SELECT coalesce((SELECT was_paused FROM cur), false) AS was_paused`;
}

/**
 * Records a job's schedule for `inspect()` and the CLI; a row it creates gets the state ttl and
 * numbers the job's entries on from its newest.
 * $1 name · $2 cron · $3 time zone or null · $4 state ttl ms
 */
export function registerJobSql(table: LockTable): string {
  return `INSERT INTO ${table.qualified} AS l (name, cron, time_zone, state_expires_at, history_seq)
VALUES ($1, $2, $3, clock_timestamp() + $4::float8 * interval '1 millisecond',
  ${newestSeqSql(table, '$1')})
ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, time_zone = excluded.time_zone
WHERE l.cron IS DISTINCT FROM excluded.cron OR l.time_zone IS DISTINCT FROM excluded.time_zone`;
}

export async function pauseJob(
  pool: PostgresPool,
  table: LockTable,
  name: string,
  pause: PauseRequest,
  stateTtl: number,
  timeout: number,
): Promise<void> {
  const until = pause.until === null ? null : Math.round(pause.until);
  await runStatement(pool, pauseSql(table), [name, pause.reason, until, stateTtl], timeout);
}

export async function resumeJob(
  pool: PostgresPool,
  table: LockTable,
  name: string,
  timeout: number,
): Promise<boolean> {
  const [row] = await runStatement<{ was_paused: boolean }>(
    pool,
    resumeSql(table),
    [name],
    timeout,
  );
  return row?.was_paused === true;
}

export async function registerJob(
  pool: PostgresPool,
  table: LockTable,
  name: string,
  schedule: JobSchedule,
  stateTtl: number,
  timeout: number,
): Promise<void> {
  await runStatement(
    pool,
    registerJobSql(table),
    [name, schedule.cron, schedule.timeZone, stateTtl],
    timeout,
  );
}
