import type { AcquireRequest, AcquireResult } from '../lock-store.interface.js';
import { runStatement, typedParameters, type PostgresPool } from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';
import { occurrenceEntrySql, refreshHistoryExpiry } from './history.js';
import { newestSeqSql } from './history-trim.js';
import type { Statements } from './statements.js';
import { numberOrNull } from './inspect.js';
import { MAX_SCHEDULED_AT_AHEAD_MS } from '../../cron-lock.constants.js';
import { LockStoreError, ScheduledAtRefusedError } from '../../cron-lock.errors.js';
import { POSTGRES_ANSWER_UNREAD } from './postgres.messages.js';
import { SCHEDULED_AT_REFUSED } from '../../cron-lock.messages.js';

/**
 * Claims an occurrence and takes the lock in one statement, so that no instance can see the lock
 * free between "is this occurrence done?" and "take it" (the same step as the Redis store's
 * ACQUIRE_SCRIPT).
 *
 * `cur` locks the job's row first (`FOR UPDATE` waits for a concurrent acquire and then reads the
 * row as it committed), so the upsert and the reason given for a refusal read the same row. The
 * upsert takes the lock only when the occurrence is later than the last one claimed and the lock
 * is free or expired; a refused upsert writes nothing. A job seen for the first time by two
 * instances at once is decided by the primary key: one inserts, the other's `ON CONFLICT` waits
 * for it and is refused (reported as `held`).
 *
 * The fencing token is max(stored + 1, database clock in µs): taking the clock every time keeps
 * tokens increasing when the row was lost (a restore from an older backup, a swept row), as the
 * Redis store does with TIME.
 *
 * Time is the database's `clock_timestamp()`, taken once: the instances' clocks never decide
 * whether a lock has expired.
 *
 * A tick more than MAX_SCHEDULED_AT_AHEAD_MS ahead of the database clock (a wrong clock, µs passed
 * as ms) is refused, nothing written: claimed, it would mark every occurrence before it as done.
 * A stored tick beyond that bound was written before ticks were bounded and is ignored, as the
 * Redis store does. The caller has already refused a tick that is not a whole non-negative number.
 *
 * A paused job (`paused_at` set, `paused_until` null or ahead of the database clock) is refused
 * as `paused` unless `$7` (force), read from the row the statement locks anyway: no extra round
 * trip. A `tick-done` answer, and a `merged` one for an occurrence merged into a run claimed
 * since, say whether the job is paused (`paused_now`) whatever `$7`: the pause is the fleet's,
 * and the other stores say it to a forced acquisition too. The first acquisition of an occurrence
 * while paused claims it (the others answer `tick-done`, one skip logged fleet-wide), records it
 * in the history table (trimmed to `$8` entries, as releaseSql trims) and refreshes the row's
 * expiry, so the pause lasts while the job is scheduled. A live queued occurrence that claim
 * passes (`passed`) will not run: it is recorded as `paused` too, before it.
 *
 * The claim is the upsert's other mode, not a step of its own: the server sets up every step of
 * a statement on each call, and a paused job is rare. On a paused job the row exists (`cur` locked
 * it), so the upsert always updates, and its inserted values say which mode it is in: `paused_at`
 * set (never inserted) is the claim, which moves only `tick` and the row's expiry. The row holds
 * this acquisition's token only when it took the lock, so the fence is returned only then: a
 * claim answers a row with a null fence.
 *
 * The job's history entries expire with its row. When taking the lock or claiming a paused
 * occurrence moves the row's expiry (less than half the state ttl left), `refreshed` says so.
 * After a take, the store's next release of the lock gives the entries the row's expiry (see
 * releaseSql): a statement that writes the history table anyway, once per move of the row's
 * expiry, where a step of this statement would open that table on every acquisition. After a
 * claim there is no release: the store sends historyExpirySql (see acquireLock), once per move of
 * a paused job's row's expiry.
 *
 * Under overlap queue/replace ($9), an occurrence that finds the lock held is recorded in the same
 * statement as the one queued (`queue`), or as `merged` when another one is queued already: the
 * same rules as the Redis store (see ACQUIRE_SCRIPT). An earlier queued occurrence goes first even
 * with the lock free (`queued_first`): nothing is taken, the occurrence merges, and `claim_queued`
 * hands the queued one to the caller. An occurrence no later than `merged` with none queued now
 * (`merged_done`: merged into a queued one that has been claimed since) answers `merged` and
 * writes nothing: that run stands for it. `queue` and `taken` never both write, on the row `cur`
 * locked: `taken` needs the lock free and no earlier occurrence queued, `queue` the lock held or
 * such an occurrence. A paused job queues nothing. The acquisition that moves `merged` forward
 * (`new_merge`) records the occurrence in the history (`merged_entry`, trimmed like the paused
 * entry): the others asking for it add nothing.
 *
 * $1 name · $2 token · $3 ttl ms · $4 scheduledAt ms or null · $5 state ttl ms · $6 instance id
 * $7 force · $8 history size · $9 overlap ('' | 'queue' | 'replace')
 * returns one row: fence (null when refused), reason ('tick-done' | 'paused' | 'held' | 'ahead' |
 * 'queued' | 'merged'), ok_at, paused (the job is paused, forced or not, with 'tick-done' and a
 * 'merged' for a run claimed since), prev (the previous tick), retry_in (ms, for 'queued' and
 * 'merged'), claim_queued (the queued occurrence to claim, with 'merged' on a free lock),
 * queued_held (the queued occurrence, with 'merged' on a held lock: retried after retry_in),
 * refreshed (the lock was taken, or a paused occurrence claimed, and the row's expiry moved)
 *
 * This statement serves acquisitions under overlap queue/replace. Without an overlap policy the
 * store calls the acquire function instead (functions.ts), whose branches follow the same rules
 * with `$9` '' (no queue or merge step). `shape` leaves out, without a history (`$8` 0), the
 * paused and merged entries; the steps kept are the same text either way.
 */
export function acquireSql(table: LockTable, shape: AcquireShape = FULL_ACQUIRE): string {
  const { history } = shape;
  return `WITH clock AS MATERIALIZED (
  SELECT now, floor(extract(epoch FROM now) * 1000)::bigint AS now_ms,
    floor(extract(epoch FROM now) * 1000)::bigint + ${MAX_SCHEDULED_AT_AHEAD_MS} AS latest
  FROM (SELECT clock_timestamp() AS now) AS t${typedParameters([history ? '' : '$8::int'])}
),
cur AS MATERIALIZED (
  SELECT tick, expires_at, ok_at, state_expires_at, token, merged, queued,
    coalesce(queued > coalesce(tick, -1), false) AND queued <> $4::bigint AS other_queued,
    coalesce(queued > coalesce(tick, -1) AND queued < $4::bigint
      AND $9::text IN ('queue', 'replace'), false) AS queued_first,
    coalesce(merged >= $4::bigint AND $9::text IN ('queue', 'replace')
      AND NOT coalesce(queued > coalesce(tick, -1), false), false) AS merged_done,
    CASE WHEN queued > coalesce(tick, -1) AND queued < $4::bigint THEN queued END AS passed,
    paused_at IS NOT NULL AND NOT $7::boolean
      AND (paused_until IS NULL OR paused_until > (SELECT now_ms FROM clock)) AS paused,
    paused_at IS NOT NULL
      AND (paused_until IS NULL OR paused_until > (SELECT now_ms FROM clock)) AS paused_now,
    history_seq, history_low
  FROM ${table.qualified} WHERE name = $1 FOR UPDATE
),
taken AS (
  INSERT INTO ${table.qualified} AS l (name, token, holder, expires_at, tick, fence, state_expires_at,
    paused_at, history_seq)
  SELECT $1, $2, $6, clock.now + $3::float8 * interval '1 millisecond', $4::bigint,
    (extract(epoch FROM clock.now) * 1000000)::bigint,
    clock.now + $5::float8 * interval '1 millisecond',
    CASE WHEN cur.paused THEN 0::bigint END,
    coalesce(cur.history_seq, ${newestSeqSql(table, '$1')})
  FROM clock LEFT JOIN cur ON true
  WHERE ($4::bigint IS NULL OR $4::bigint <= clock.latest) AND NOT coalesce(cur.merged_done, false)
    AND CASE WHEN cur.paused
      THEN $4::bigint IS NOT NULL
        AND NOT coalesce(cur.tick >= $4::bigint AND cur.tick <= clock.latest, false)
      ELSE NOT coalesce(cur.queued_first, false) END
  ON CONFLICT (name) DO UPDATE SET
    token = CASE WHEN excluded.paused_at IS NULL THEN excluded.token ELSE l.token END,
    holder = CASE WHEN excluded.paused_at IS NULL THEN excluded.holder ELSE l.holder END,
    expires_at = CASE WHEN excluded.paused_at IS NULL THEN excluded.expires_at ELSE l.expires_at END,
    tick = coalesce(excluded.tick, l.tick),
    fence = CASE WHEN excluded.paused_at IS NULL THEN greatest(l.fence + 1, excluded.fence)
      ELSE l.fence END,
    state_expires_at = CASE
      WHEN l.state_expires_at - (SELECT now FROM clock) >= $5::float8 * interval '0.5 millisecond'
      THEN l.state_expires_at ELSE excluded.state_expires_at END,
    history_seq = l.history_seq + CASE WHEN excluded.paused_at IS NOT NULL AND $8::int > 0
      THEN (SELECT ${PAUSED_ADDED} FROM cur) ELSE 0 END,
    history_low = CASE WHEN excluded.paused_at IS NOT NULL AND $8::int > 0 THEN greatest(
      l.history_low, l.history_seq + (SELECT ${PAUSED_ADDED} FROM cur) - $8::int + 1)
      ELSE l.history_low END
  WHERE excluded.paused_at IS NOT NULL
    OR ($4::bigint IS NULL OR l.tick IS NULL OR l.tick < $4::bigint
      OR l.tick > (SELECT latest FROM clock))
    AND (l.expires_at IS NULL OR l.expires_at <= (SELECT now FROM clock))
  RETURNING CASE WHEN l.token = $2 THEN l.fence END AS fence
)${history ? `,\n${occurrenceEntrySql(table, 'paused', 'EXISTS (SELECT 1 FROM taken WHERE fence IS NULL)', PAUSED_ADDED, '(SELECT passed FROM cur)')}` : ''},
${queueSql(table, history)}
SELECT (SELECT fence FROM taken) AS fence,
  CASE WHEN $4::bigint > clock.latest THEN 'ahead'
    WHEN $4::bigint IS NOT NULL AND cur.tick >= $4::bigint AND cur.tick <= clock.latest
    THEN 'tick-done' WHEN cur.merged_done THEN 'merged' WHEN cur.paused THEN 'paused'
    ELSE coalesce((SELECT reason FROM queue), 'held') END AS reason,
  cur.ok_at, coalesce(CASE WHEN $4::bigint IS NOT NULL AND cur.tick >= $4::bigint
      AND cur.tick <= clock.latest OR cur.merged_done THEN cur.paused_now ELSE cur.paused END,
    false) AS paused,
  greatest(CASE WHEN cur.tick < $4::bigint THEN cur.tick END,
    CASE WHEN cur.merged < $4::bigint THEN cur.merged END) AS prev,
  ${QUEUE_COLUMNS},
  coalesce(cur.state_expires_at - clock.now < $5::float8 * interval '0.5 millisecond', false)
    AND EXISTS (SELECT 1 FROM taken) AS refreshed
FROM clock LEFT JOIN cur ON true${history ? TRIMS_RUN : ''}`;
}

/**
 * The steps of an acquisition under overlap queue/replace: `queue` records the occurrence as the
 * one queued or merges it, and (with a history) `merged_entry`/`merged_trim` record a new merge.
 */
function queueSql(table: LockTable, history: boolean): string {
  return `queue AS (
  UPDATE ${table.qualified} AS l SET
    queued = CASE WHEN cur.other_queued THEN l.queued ELSE $4::bigint END,
    merged = CASE WHEN cur.other_queued THEN greatest(l.merged, $4::bigint) ELSE l.merged END,
    repl = CASE WHEN NOT cur.other_queued AND $9::text = 'replace' THEN cur.token ELSE l.repl END,
    history_seq = l.history_seq + CASE WHEN ${MERGE_ENTRY} THEN 1 ELSE 0 END,
    history_low = CASE WHEN ${MERGE_ENTRY}
      THEN greatest(l.history_low, l.history_seq + 2 - $8::int) ELSE l.history_low END
  FROM cur, clock
  WHERE l.name = $1 AND $9::text IN ('queue', 'replace') AND $4::bigint <= clock.latest
    AND NOT cur.paused AND NOT cur.merged_done
    AND (cur.expires_at > clock.now OR cur.queued_first)
    AND NOT coalesce(cur.tick >= $4::bigint AND cur.tick <= clock.latest, false)
  RETURNING CASE WHEN cur.other_queued THEN 'merged' ELSE 'queued' END AS reason,
    floor(extract(epoch FROM (cur.expires_at - clock.now)) * 1000)::float8 AS retry_in,
    cur.other_queued AND coalesce(cur.merged < $4::bigint, true) AS new_merge
)${
    history
      ? `,\n${occurrenceEntrySql(table, 'merged', 'EXISTS (SELECT 1 FROM queue WHERE new_merge)', '1')}`
      : ''
  }`;
}

/** What a paused claim writes (the occurrence it passes, then its own, at most `$8`). */
const PAUSED_ADDED = `least(CASE WHEN passed IS NULL THEN 1 ELSE 2 END, $8::int)`;

/** The trims are SELECTs (see occurrenceEntrySql): they run only when the final row reads them. */
const TRIMS_RUN = `\nWHERE (SELECT pg_catalog.count(*) FROM paused_trim) + (SELECT pg_catalog.count(*) FROM merged_trim) >= 0`;

/** A merge the statement records (`new_merge` with a history). */
const MERGE_ENTRY = `$8::int > 0 AND cur.other_queued AND coalesce(cur.merged < $4::bigint, true)`;

/** What the final row reads of `queue`. */
const QUEUE_COLUMNS = `(SELECT retry_in FROM queue) AS retry_in,
  CASE WHEN cur.queued_first AND NOT coalesce(cur.expires_at > clock.now, false)
    AND EXISTS (SELECT 1 FROM queue) THEN cur.queued END AS claim_queued,
  CASE WHEN cur.expires_at > clock.now AND (SELECT reason FROM queue) = 'merged'
    THEN cur.queued END AS queued_held`;

/** Which steps an acquisition's statement carries (see acquireSql). */
export interface AcquireShape {
  /** With a history size above 0: the paused and merged entries. */
  readonly history: boolean;
}

const FULL_ACQUIRE: AcquireShape = { history: true };
const ACQUIRE_SHAPES: readonly AcquireShape[] = [{ history: false }, FULL_ACQUIRE];

/** A small integer for each shape. */
export function acquireShapeKey(shape: AcquireShape): number {
  return shape.history ? 1 : 0;
}

interface AcquireRow {
  fence: string | null;
  reason: 'tick-done' | 'paused' | 'held' | 'ahead' | 'queued' | 'merged';
  ok_at: string | null;
  paused: boolean;
  prev: string | null;
  retry_in: number | null;
  claim_queued: string | null;
  queued_held: string | null;
  refreshed: boolean;
}

/** The functions' one-text answer (see functions.ts). */
export interface FunctionAnswer {
  answer: string | null;
}

/**
 * The acquire function's answer as the statement's row: fence · reason · ok_at · paused · prev ·
 * refreshed, a null field empty, booleans `t`/`f`. Fields a later version adds after these are
 * left. Read strictly: any other form (functions that answer columns, whose row reads as one text
 * like `(,held,…)`) fails the acquisition rather than being taken for a fencing token.
 */
function acquireAnswer({ answer }: FunctionAnswer): AcquireRow {
  const fields = ACQUIRE_ANSWER.exec(answer ?? '');
  if (!fields) {
    throw new LockStoreError(POSTGRES_ANSWER_UNREAD('acquire'), { answered: true });
  }
  const [, fence, reason, okAt, paused, prev, refreshed] = fields;
  return {
    fence: fence || null,
    reason: reason as AcquireRow['reason'],
    ok_at: okAt || null,
    paused: paused === 't',
    prev: prev || null,
    retry_in: null,
    claim_queued: null,
    queued_held: null,
    refreshed: refreshed === 't',
  };
}

const ACQUIRE_ANSWER = /^(\d*),(held|ahead|tick-done|paused),(-?\d*),([tf]),(-?\d*),([tf])(?:,|$)/;

/**
 * Sends {@link acquireSql}. `stateTtl`: how long the job's row outlives this acquisition (ms).
 * Adds the job to `refreshHistory` when the statement moved the row's expiry. A paused answer
 * has no release to make that refresh: it sends historyExpirySql itself, before it answers.
 */
export async function acquireLock(
  pool: PostgresPool,
  sql: Statements,
  request: AcquireRequest,
  stateTtl: number,
  timeout: number,
  refreshHistory: Set<string>,
): Promise<AcquireResult> {
  const { scheduledAt } = request;
  // Only the type decides 'invalid': refused before a round trip, as by the other stores. Only
  // the database's clock decides 'ahead'.
  if (scheduledAt !== undefined && (!Number.isSafeInteger(scheduledAt) || scheduledAt < 0)) {
    throw refused(scheduledAt, 'invalid');
  }
  const overlap = request.overlap === 'queue' || request.overlap === 'replace';
  const historySize = request.historySize ?? 0;
  const values = [
    request.name,
    request.token,
    request.ttl,
    request.scheduledAt ?? null,
    stateTtl,
    request.instanceId,
    request.force === true,
    historySize,
  ];
  // Under an overlap policy the statement with the queue and merge steps; otherwise the function.
  const [row] = overlap
    ? await runStatement<AcquireRow>(
        pool,
        sql.acquire(ACQUIRE_SHAPES[historySize > 0 ? 1 : 0]),
        [...values, request.overlap],
        timeout,
      )
    : (await runStatement<FunctionAnswer>(pool, sql.acquireCall, values, timeout)).map(
        acquireAnswer,
      );
  const lastSuccessAt = numberOrNull(row?.ok_at);
  if (row?.reason === 'ahead' && scheduledAt !== undefined) {
    throw refused(scheduledAt, 'ahead');
  }
  if (row?.refreshed) {
    refreshHistory.add(request.name);
  }
  if (row?.fence !== null && row?.fence !== undefined) {
    const previousTick = numberOrNull(row.prev);
    return previousTick === null
      ? { acquired: true, fencingToken: Number(row.fence), lastSuccessAt }
      : { acquired: true, fencingToken: Number(row.fence), lastSuccessAt, previousTick };
  }
  if (row?.reason === 'queued') {
    return {
      acquired: false,
      reason: 'queued',
      retryIn: Math.max(0, Number(row.retry_in)),
      lastSuccessAt,
    };
  }
  if (row?.reason === 'merged' && row.claim_queued !== null && request.onQueued) {
    request.onQueued(Number(row.claim_queued));
  } else if (row?.reason === 'merged' && row.queued_held !== null && request.onQueued) {
    request.onQueued(Number(row.queued_held), Math.max(0, Number(row.retry_in)));
  }
  const reason =
    row?.reason === 'tick-done' || row?.reason === 'paused' || row?.reason === 'merged'
      ? row.reason
      : 'held';
  if (!row?.paused) {
    return { acquired: false, reason, lastSuccessAt };
  }
  if (refreshHistory.has(request.name)) {
    await refreshHistoryExpiry(pool, sql.historyExpiry, request.name, timeout, refreshHistory);
  }
  return { acquired: false, reason, lastSuccessAt, paused: true };
}

function refused(scheduledAt: number, reason: 'invalid' | 'ahead'): ScheduledAtRefusedError {
  return new ScheduledAtRefusedError(
    reason,
    SCHEDULED_AT_REFUSED(String(scheduledAt), reason, MAX_SCHEDULED_AT_AHEAD_MS),
  );
}
