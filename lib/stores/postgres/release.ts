import { STATE_TTL_MS } from '../../cron-lock.constants.js';
import type { ReleaseRequest } from '../lock-store.interface.js';
import { runStatement, typedParameters, type PostgresPool } from './postgres-connection.js';
import type { Statements } from './statements.js';
import type { LockTable } from './postgres-table.js';
import { entryText, releaseEntries } from '../history-entries.js';
import { historyTrimSql, newestToDropSql } from './history.js';
import type { SweepSchedule } from './sweep-schedule.js';

/** Of the entries it finds, those a release keeps; and whether it writes any. */
const HISTORY_KEPT = '$8::int - cardinality($9::text[])';
const HISTORY_WRITTEN = '$8::int > 0 AND cardinality($9::text[]) > 0';

/** Expired rows deleted by one release at most: bounds the work a release does on the way. */
const SWEEP_LIMIT = 16;

/**
 * Records how the run ended, then frees the lock only if the caller still owns it (a late release
 * must never free another instance's lock), or, for `minHold`, shortens it to the time left. The
 * occurrence marker (`tick`) and the fencing token stay, so a late instance cannot re-run this
 * occurrence. Same rules as the Redis store's RELEASE_SCRIPT: the outcome is recorded even when
 * the lock is no longer ours, and a success only moves `ok_at` forward.
 *
 * A job's row that no longer exists (swept) is re-created for an outcome. A release with
 * `shape.sweep` (see SweepSchedule) also deletes a few rows whose state expired (no acquisition
 * for the state ttl) and whose lock is free, and says whether it found a full batch
 * (`sweep_more`): the table stays bounded without a separate cleanup job. `SKIP LOCKED`: the
 * sweep never waits for another instance's statement. Both sweeps read through the expiry
 * indexes whatever the plan: the clock is a scalar subquery (an index condition, where a join
 * with the clock is only a filter), `ORDER BY` the indexed expiry makes a scan of the index the
 * cheap way to the first rows, and the rows found (locked, so they stay where they are) are
 * deleted by their `ctid`, which every plan reads directly, where `IN (…)` may hash them and read
 * the whole table to match: a release that found rows to sweep read every row of every job to
 * delete them.
 *
 * A success reported with a finish time ahead of the database clock (an instance whose clock is
 * ahead) is recorded at the database's time (`fin`, for `ok_at` and `end_at`): an `ok_at` in the
 * future would keep "no success for N periods" quiet until that time came.
 *
 * The job's history entries (`$9`: the run and the occurrences it found missed, JSON text, oldest
 * first) are inserted in the same statement, the job's older entries beyond `$8` deleted, and a
 * few expired entries of any job swept (as the rows are). The trim finds the newest entry to drop
 * (`LIMIT 1`: a backward scan of the job's index, no sort of all its entries) and deletes it and
 * every older one of the job by an index range: usually one entry. A release that reports an
 * outcome with the history off (`$8` 0) deletes the job's entries instead (`history_off`): turned
 * off, it keeps none, where the entries recorded while it was on would show as the newest for
 * good. A release without an outcome (the CLI's, the dashboard's) or a size (`$8` null) says
 * nothing of the size, and leaves them.
 *
 * An entry expires with the job's row: at its `state_expires_at`, which a long marker ttl puts
 * past the default state ttl `$7`, or `$7` from now if that is later. With `refreshHistory` (the
 * acquisition moved the row's expiry, see acquireSql) the job's older entries get the same; the
 * entries the trim deletes are left out (the same boundary, on the same snapshot), as a row that
 * one statement both updates and deletes ends either way.
 *
 * $1 name · $2 token · $3 keep ms (0 = free now) · $4 outcome ('' | 'completed' | 'failed')
 * $5 duration ms · $6 finished at ms (null: the database's time) · $7 state ttl ms
 * $8 history size or null · $9 entries text[]
 * returns released: boolean, queued: the occurrence queued behind the lock (overlap), or null
 */
export function releaseSql(table: LockTable, shape: ReleaseShape = FULL_RELEASE): string {
  const { outcome, history, refresh, sweep } = shape;
  const writes = history === 'write';
  return `WITH clock AS MATERIALIZED (
  SELECT now, least($6::bigint, floor(extract(epoch FROM now) * 1000)::bigint) AS fin
  FROM (SELECT clock_timestamp() AS now) AS t${typedParameters([
    outcome ? '' : '$4::text, $5::bigint',
    outcome || writes || refresh ? '' : '$7::float8',
    history === 'none' && !refresh ? '$8::int' : '',
    writes || refresh ? '' : '$9::text[]',
  ])}
),
cur AS MATERIALIZED (
  SELECT coalesce(l.token = $2 AND l.expires_at > clock.now, false) AS ours,
    CASE WHEN l.queued > coalesce(l.tick, -1) THEN l.queued END AS queued, l.state_expires_at,
    clock.now, clock.fin
  FROM ${table.qualified} AS l, clock WHERE l.name = $1 FOR UPDATE OF l
),${
    writes || refresh
      ? `
entry_expiry AS MATERIALIZED (
  SELECT greatest((SELECT state_expires_at FROM cur),
    clock.now + $7::float8 * interval '1 millisecond') AS expires_at
  FROM clock
),`
      : ''
  }
${outcome ? recordedSql(table) : updatedSql(table)}${
    writes
      ? `,
history_added AS (
  INSERT INTO ${table.history} (name, entry, expires_at)
  SELECT $1, e.entry, (SELECT expires_at FROM entry_expiry)
  FROM clock, unnest($9::text[]) WITH ORDINALITY AS e(entry, n)
  WHERE $8::int > 0 AND e.n > cardinality($9::text[]) - $8::int
  ORDER BY e.n
),
history_trimmed AS (
  ${historyTrimSql(table, HISTORY_KEPT, HISTORY_WRITTEN)}
)`
      : ''
  }${
    history === 'off'
      ? `,
history_off AS (
  DELETE FROM ${table.history} WHERE name = $1 AND $8::int <= 0 AND $4::text <> ''
)`
      : ''
  }${
    refresh
      ? `,
history_kept AS (
  UPDATE ${table.history} SET expires_at = (SELECT expires_at FROM entry_expiry)
  WHERE name = $1 AND id > coalesce((${newestToDropSql(table, HISTORY_KEPT)}), 0)
)`
      : ''
  }${sweep ? sweepSql(table, writes) : ''}
SELECT coalesce((SELECT ours FROM cur), false) AS released, (SELECT queued FROM cur) AS queued${
    sweep
      ? `,
  (SELECT count(*) FROM swept) >= ${SWEEP_LIMIT}${
    writes ? ` OR (SELECT count(*) FROM history_swept) >= ${SWEEP_LIMIT}` : ''
  } AS sweep_more`
      : ''
  }`;
}

/**
 * A release that records an outcome, in one upsert: it updates the job's row (the lock freed or
 * shortened as updatedSql does, and the outcome recorded) or, where the row was swept, re-creates
 * it with the outcome and no lock. One write step instead of an update and an insert, since the
 * server sets up every step of a statement on each call. The values inserted carry what the
 * update needs: `token` is the caller's token only when it still owns the lock (`cur.ours`),
 * `expires_at` the lock's new expiry then (null: freed), `end_at` the finish time. Where the row
 * is missing there is no `cur` row, so both are null: the re-created row holds no lock.
 */
function recordedSql(table: LockTable): string {
  return `recorded AS (
  INSERT INTO ${table.qualified} AS l
    (name, fails, outcome, end_at, ok_at, ok_ms, state_expires_at, token, expires_at)
  SELECT $1, CASE WHEN $4::text = 'failed' THEN 1 ELSE 0 END, $4::text, clock.fin,
    CASE WHEN $4::text = 'completed' THEN clock.fin END,
    CASE WHEN $4::text = 'completed' THEN $5::bigint END,
    clock.now + $7::float8 * interval '1 millisecond',
    CASE WHEN cur.ours THEN $2 END,
    CASE WHEN cur.ours AND $3::float8 > 0 THEN clock.now + $3::float8 * interval '1 millisecond' END
  FROM clock LEFT JOIN cur ON true
  ON CONFLICT (name) DO UPDATE SET
    token = CASE WHEN excluded.token IS NOT NULL AND $3::float8 <= 0 THEN NULL ELSE l.token END,
    expires_at = CASE WHEN excluded.token IS NULL THEN l.expires_at ELSE excluded.expires_at END,
    fails = CASE $4::text WHEN 'failed' THEN l.fails + 1 WHEN 'completed' THEN 0 ELSE l.fails END,
    outcome = excluded.outcome,
    end_at = excluded.end_at,
    ok_at = CASE WHEN $4::text = 'completed' AND (l.ok_at IS NULL OR l.ok_at <= excluded.end_at)
      THEN excluded.end_at ELSE l.ok_at END,
    ok_ms = CASE WHEN $4::text = 'completed' AND (l.ok_at IS NULL OR l.ok_at <= excluded.end_at)
      THEN excluded.ok_ms ELSE l.ok_ms END
)`;
}

/**
 * A release without an outcome (`$4` is '', so nothing about the run is written): frees (or, for
 * `minHold`, shortens) the lock if still ours.
 */
function updatedSql(table: LockTable): string {
  return `updated AS (
  UPDATE ${table.qualified} AS l SET
    token = CASE WHEN $3::float8 <= 0 THEN NULL ELSE l.token END,
    expires_at = CASE
      WHEN $3::float8 > 0 THEN cur.now + $3::float8 * interval '1 millisecond' END
  FROM cur WHERE l.name = $1 AND cur.ours
)`;
}

/**
 * The sweeps: a few rows whose state expired and whose lock is free, and (`entries`: with the
 * entries a release writes) a few expired history entries of any job. Each counts what it deleted.
 */
function sweepSql(table: LockTable, entries: boolean): string {
  return `${
    entries
      ? `,
history_swept AS (
  DELETE FROM ${table.history} WHERE cardinality($9::text[]) > 0 AND ctid = ANY (ARRAY(
    SELECT ctid FROM ${table.history} WHERE expires_at < (SELECT now FROM clock)
    ORDER BY expires_at LIMIT ${SWEEP_LIMIT} FOR UPDATE SKIP LOCKED
  ))
  RETURNING 1
)`
      : ''
  },
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

/** Which steps a release's statement carries (see releaseSql). */
export interface ReleaseShape {
  /** An outcome to record (`$4` not ''): recordedSql's upsert, re-creating a swept row. */
  readonly outcome: boolean;
  /**
   * `write`: entries to add (`$8` above 0, `$9` not empty), trim and sweep; `off`: an outcome
   * with the history off (`$8` 0), which deletes the job's entries; `none`: neither.
   */
  readonly history: 'write' | 'off' | 'none';
  /** The job's older entries take the row's expiry (see refreshHistory above). */
  readonly refresh: boolean;
  /** The sweeps of expired rows and entries (see SweepSchedule). */
  readonly sweep: boolean;
}

const FULL_RELEASE: ReleaseShape = { outcome: true, history: 'write', refresh: false, sweep: true };
const HISTORY_KEYS = { none: 0, write: 1, off: 2 } as const;

/** A small integer for each shape. */
export function releaseShapeKey(shape: ReleaseShape): number {
  const flags = (shape.outcome ? 1 : 0) | (shape.refresh ? 8 : 0) | (shape.sweep ? 16 : 0);
  return flags | (HISTORY_KEYS[shape.history] << 1);
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
  const entries =
    size !== null && size > 0 ? releaseEntries(outcome, request.missed, Date.now()) : [];
  const refresh = refreshHistory.delete(request.name);
  const shape: ReleaseShape = {
    outcome: outcome !== undefined,
    history: entries.length > 0 ? 'write' : size !== null && size <= 0 && outcome ? 'off' : 'none',
    refresh,
    sweep: sweeps.take(),
  };
  let row: ReleaseRow | undefined;
  try {
    [row] = await runStatement<ReleaseRow>(
      pool,
      sql.release(shape),
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
        entries.map(entryText),
      ],
      timeout,
    );
  } catch (error) {
    if (refresh) {
      refreshHistory.add(request.name);
    }
    if (shape.sweep) {
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

interface ReleaseRow {
  released: boolean;
  queued: string | null;
  /** With a sweep: it found a full batch of rows or entries, and more may be left. */
  sweep_more?: boolean;
}
