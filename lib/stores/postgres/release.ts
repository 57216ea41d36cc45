import { STATE_TTL_MS } from '../../cron-lock.constants.js';
import type { ReleaseRequest } from '../lock-store.interface.js';
import { runStatement, typedParameters, type PostgresPool } from './postgres-connection.js';
import type { Statements } from './statements.js';
import type { LockTable } from './postgres-table.js';
import { releaseEntryTexts } from '../history-entries.js';
import { SWEEP_LIMIT } from './functions.js';
import { newestSeqSql } from './history-trim.js';
import type { SweepSchedule } from './sweep-schedule.js';
import type { FunctionAnswer } from './acquire.js';
import { LockStoreError } from '../../cron-lock.errors.js';
import { POSTGRES_ANSWER_UNREAD } from './postgres.messages.js';

/** Of the entries it finds, those a release keeps. */
const HISTORY_KEPT = '$8::int - pg_catalog.cardinality($9::text[])';

/**
 * Records how the run ended, then frees the lock only if the caller still owns it (a late release
 * must never free another instance's lock), or, for `minHold`, shortens it to the time left. The
 * occurrence marker (`tick`) and the fencing token stay, so a late instance cannot re-run this
 * occurrence. Same rules as the Redis store's RELEASE_SCRIPT: the outcome is recorded even when
 * the lock is no longer ours, and a success only moves `ok_at` forward.
 *
 * A release with an outcome (the runs') calls the release function (see functions.ts), which
 * records the outcome (re-creating a swept row), writes and trims the job's history entries,
 * refreshes their expiry and sweeps in branches of its own. This statement is the release without
 * an outcome (the CLI's, the dashboard's; `$4` is '', so nothing about the run is written), sent
 * with the same nine values.
 *
 * With `shape.sweep` (see SweepSchedule) it also deletes a few rows whose state expired (no
 * acquisition for the state ttl) and whose lock is free, and says whether it found a full batch
 * (`sweep_more`): the table stays bounded without a separate cleanup job. `SKIP LOCKED`: the
 * sweep never waits for another instance's statement. It reads through the expiry index whatever
 * the plan: the clock is a scalar subquery (an index condition, where a join with the clock is
 * only a filter), `ORDER BY` the indexed expiry makes a scan of the index the cheap way to the
 * first rows, and the rows found (locked, so they stay where they are) are deleted by their
 * `ctid`, which every plan reads directly, where `IN (…)` may hash them and read the whole table.
 *
 * With `shape.refresh` (the acquisition moved the row's expiry, see acquireSql) the job's newest
 * `$8` history entries get the row's expiry, or `$7` from now if that is later.
 *
 * $1 name · $2 token · $3 keep ms (0 = free now) · $4 outcome ('') · $5 duration ms
 * $6 finished at ms · $7 state ttl ms · $8 history size or null · $9 entries text[]
 * returns released: boolean, queued: the occurrence queued behind the lock (overlap), or null
 */
export function releaseSql(table: LockTable, shape: ReleaseShape = FULL_RELEASE): string {
  const { refresh, sweep } = shape;
  return `WITH clock AS MATERIALIZED (
  SELECT now FROM (SELECT clock_timestamp() AS now) AS t${typedParameters([
    '$4::text, $5::bigint, $6::bigint',
    refresh ? '' : '$7::float8, $8::int, $9::text[]',
  ])}
),
cur AS MATERIALIZED (
  SELECT coalesce(l.token = $2 AND l.expires_at > clock.now, false) AS ours,
    CASE WHEN l.queued > coalesce(l.tick, -1) THEN l.queued END AS queued, l.state_expires_at,
    clock.now, l.history_seq
  FROM ${table.qualified} AS l, clock WHERE l.name = $1 FOR UPDATE OF l
),${
    refresh
      ? `
entry_expiry AS MATERIALIZED (
  SELECT greatest((SELECT state_expires_at FROM cur),
    clock.now + $7::float8 * interval '1 millisecond') AS expires_at
  FROM clock
),`
      : ''
  }
updated AS (
  UPDATE ${table.qualified} AS l SET
    token = CASE WHEN $3::float8 <= 0 THEN NULL ELSE l.token END,
    expires_at = CASE
      WHEN $3::float8 > 0 THEN cur.now + $3::float8 * interval '1 millisecond' END
  FROM cur WHERE l.name = $1 AND cur.ours
)${
    refresh
      ? `,
history_kept AS (
  UPDATE ${table.history} SET expires_at = (SELECT expires_at FROM entry_expiry)
  WHERE name = $1 AND seq > coalesce((SELECT history_seq FROM cur), ${newestSeqSql(table, '$1')})
    - (${HISTORY_KEPT})
)`
      : ''
  }${sweep ? sweepSql(table) : ''}
SELECT coalesce((SELECT ours FROM cur), false) AS released, (SELECT queued FROM cur) AS queued${
    sweep ? `,\n  (SELECT count(*) FROM swept) >= ${SWEEP_LIMIT} AS sweep_more` : ''
  }`;
}

/** The sweep of a few rows whose state expired and whose lock is free; counts what it deleted. */
function sweepSql(table: LockTable): string {
  return `,
swept AS (
  DELETE FROM ${table.qualified} WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM ${table.qualified}
    WHERE state_expires_at < (SELECT now FROM clock)
      AND (expires_at IS NULL OR expires_at <= (SELECT now FROM clock)) AND name <> $1
    ORDER BY state_expires_at LIMIT ${SWEEP_LIMIT} FOR UPDATE SKIP LOCKED
  ))
  RETURNING 1
)`;
}

/** Which steps a release's statement carries (see releaseSql): one without an outcome. */
export interface ReleaseShape {
  /** The job's newest entries take the row's expiry (see refreshHistory above). */
  readonly refresh: boolean;
  /** The sweep of expired rows (see SweepSchedule). */
  readonly sweep: boolean;
}

const FULL_RELEASE: ReleaseShape = { refresh: true, sweep: true };

/** A small integer for each shape. */
export function releaseShapeKey(shape: ReleaseShape): number {
  return (shape.refresh ? 1 : 0) | (shape.sweep ? 2 : 0);
}

/**
 * Sends {@link releaseSql}, with `refreshHistory` when the job is in `refreshHistory` (which it
 * leaves, unless the release fails: the next one makes the refresh), and with the sweeps when
 * `sweeps` says it is their turn; resolves `true` when the lock was ours.
 */
export async function releaseLock(
  pool: PostgresPool,
  sql: Statements,
  request: ReleaseRequest,
  timeout: number,
  refreshHistory: Set<string>,
  sweeps: SweepSchedule,
): Promise<boolean> {
  const keep = request.keepFor ? Math.max(0, Math.round(request.keepFor)) : 0;
  const outcome = request.outcome;
  // null, not 0, when the request has none: only a size of 0 empties the history.
  const size = request.historySize ?? null;
  const entries = size !== null && size > 0 ? releaseEntryTexts(outcome, request.missed) : [];
  // The usual release: its run's entry alone, sent as a text (see releaseCallSql).
  const oneEntry = outcome !== undefined && entries.length === 1;
  const refresh = refreshHistory.delete(request.name);
  const sweep = sweeps.take();
  let row: ReleaseRow | undefined;
  try {
    const rows = await runStatement<ReleaseRow | FunctionAnswer>(
      pool,
      outcome ? (oneEntry ? sql.releaseCallOne : sql.releaseCall) : sql.release({ refresh, sweep }),
      [
        request.name,
        request.token,
        keep,
        outcome ? (outcome.status === 'failed' ? 'failed' : 'completed') : '',
        outcome ? Math.max(0, Math.round(outcome.durationMs)) : 0,
        // null for a finish time that is not a number: `least()` then takes the database's time,
        // as for one ahead of its clock, where the text "NaN" would fail the whole release.
        outcome && Number.isFinite(outcome.finishedAt) ? Math.round(outcome.finishedAt) : null,
        STATE_TTL_MS,
        size,
        oneEntry ? entries[0] : entries,
        // The function's: the refresh and the sweep are branches of it, not shapes.
        ...(outcome ? [refresh, sweep] : []),
      ],
      timeout,
    );
    row = outcome ? releaseAnswer(rows[0] as FunctionAnswer | undefined) : (rows[0] as ReleaseRow);
  } catch (error) {
    if (refresh) {
      refreshHistory.add(request.name);
    }
    if (sweep) {
      sweeps.again();
    }
    throw error;
  }
  if (request.onQueued && row?.queued !== null && row?.queued !== undefined) {
    request.onQueued(Number(row.queued));
  }
  if (row?.sweep_more) {
    sweeps.again();
  }
  return row?.released === true;
}

/**
 * The release function's answer as the statement's row: released · queued · sweep_more, a null
 * field empty, booleans `t`/`f`. Fields a later version adds after these are left. Read strictly,
 * as the acquire's answer is (acquire.ts): any other form fails the release.
 */
function releaseAnswer(answer: FunctionAnswer | undefined): ReleaseRow | undefined {
  if (answer === undefined) {
    return undefined;
  }
  const fields = RELEASE_ANSWER.exec(answer.answer ?? '');
  if (!fields) {
    throw new LockStoreError(POSTGRES_ANSWER_UNREAD('release'), { answered: true });
  }
  const [, released, queued, sweepMore] = fields;
  return { released: released === 't', queued: queued || null, sweep_more: sweepMore === 't' };
}

const RELEASE_ANSWER = /^([tf]),(-?\d*),([tf])(?:,|$)/;

interface ReleaseRow {
  released: boolean;
  queued: string | null;
  /** With a sweep: it found a full batch of rows or entries, and more may be left. */
  sweep_more?: boolean;
}
