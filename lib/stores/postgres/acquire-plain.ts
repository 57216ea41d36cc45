import type { AcquireRequest, AcquireResult } from '../lock-store.interface.js';
import { runStatement, type PostgresPool, type Statement } from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';
import { newestSeqSql } from './history-trim.js';

/**
 * Takes a plain lock ({@link AcquireRequest.plain}) in one statement: the job's row is inserted,
 * or taken over when its lock is free or expired on the database clock. No occurrence is claimed,
 * no holder recorded, no pause or queue read, no history written; jobs, and `run()` with
 * `scheduledAt` or `record`, take {@link acquireSql} instead.
 *
 * The fencing token is the cron path's rule on the same column: max(stored + 1, database clock in
 * µs), stored, so the tokens of a name taken both ways only grow, and while the row exists they
 * grow without relying on the clock. A row swept or lost since falls back on the clock, as the
 * cron path does.
 *
 * `holder` is cleared: it names the holder of a recorded lock, and `inspect()` shows it while the
 * lock is held. The row's `state_expires_at` is set only when the row is created (the sweep in
 * {@link releaseSql} deletes a row only once its lock is free as well), so taking the lock again
 * changes no indexed column and PostgreSQL can update the row in place (a HOT update). A row it
 * creates numbers the job's history entries on from the newest one (they outlive a swept row),
 * for the cron path's writers that follow.
 *
 * A concurrent acquire of the same name waits on the row (the `ON CONFLICT` arbiter locks it) and
 * then reads it as committed: one of two contenders gets a row back, the other none.
 *
 * $1 name · $2 token · $3 ttl ms · $4 state ttl ms · returns one row (fence) when taken, none when held
 */
export function acquirePlainSql(table: LockTable): string {
  return `WITH clock AS MATERIALIZED (SELECT clock_timestamp() AS now)
INSERT INTO ${table.qualified} AS l (name, token, expires_at, fence, state_expires_at,
  history_seq)
SELECT $1, $2, clock.now + $3::float8 * interval '1 millisecond',
  (extract(epoch FROM clock.now) * 1000000)::bigint,
  clock.now + $4::float8 * interval '1 millisecond', ${newestSeqSql(table, '$1')}
FROM clock
ON CONFLICT (name) DO UPDATE SET
  token = excluded.token,
  holder = NULL,
  expires_at = excluded.expires_at,
  fence = greatest(l.fence + 1, excluded.fence)
WHERE l.expires_at IS NULL OR l.expires_at <= (SELECT now FROM clock)
RETURNING l.fence`;
}

/** Sends {@link acquirePlainSql}. `stateTtl`: how long a row it creates is kept (ms). */
export async function acquirePlainLock(
  pool: PostgresPool,
  sql: Statement,
  request: AcquireRequest,
  stateTtl: number,
  timeout: number,
): Promise<AcquireResult> {
  const [row] = await runStatement<{ fence: string }>(
    pool,
    sql,
    [request.name, request.token, request.ttl, stateTtl],
    timeout,
  );
  // bigint arrives as text; µs since the epoch stay below 2^53 for centuries.
  return row
    ? { acquired: true, fencingToken: Number(row.fence) }
    : { acquired: false, reason: 'held' };
}
