import { MAX_SCHEDULED_AT_AHEAD_MS } from '../../cron-lock.constants.js';
import type { LockTable } from './postgres-table.js';
import {
  newestSeqSql,
  TRIM_ARGS,
  trimFunctionName,
  trimFunctionSql,
  trimDeleteSql,
  trimSql,
} from './history-trim.js';

/** Expired rows (and history entries) deleted by one release at most: bounds its work. */
export const SWEEP_LIMIT = 16;

/**
 * The cron path's acquire and release as functions of the schema (PL/pgSQL), created with the
 * tables (see createTableSql): `<table>_acquire` and `<table>_release`, in the table's schema.
 *
 * Why functions: the server sets up every step of a statement on each call (its data-modifying
 * CTEs, their sub-plans and indexes), also the steps whose condition then skips them, so the one
 * statement per operation paid for the paused claim, the history's trim or the sweep on every call.
 * A function's `IF` branches run only the statements a request needs; each statement in it is
 * planned once per server connection and set up only when reached. It is still one statement
 * (one round trip) in its own implicit transaction, and keeps no session state (its cached plans
 * are the server connection's, so it works behind PgBouncer in transaction mode too).
 *
 * Each statement in a function takes a new snapshot, so the statements after the row's lock
 * (`FOR UPDATE`) read what committed up to it, as the single statement's re-check of the locked
 * row did. The functions run with the caller's rights (SECURITY INVOKER, the default): the app
 * role needs only its rights on the tables, and EXECUTE, which PostgreSQL gives everyone unless a
 * database revokes it.
 *
 * The acquire is acquireSql without an overlap policy (`$9` ''): an acquisition under
 * `overlap: 'queue' | 'replace'` keeps that statement. The release is releaseSql with an
 * outcome; one without (the CLI's, the dashboard's) keeps the statement. See those for the rules;
 * the branches below follow them step by step.
 */
export function functionNames(table: LockTable): { acquire: string; release: string } {
  return {
    acquire: `"${table.schema}"."${table.table}_acquire"`,
    release: `"${table.schema}"."${table.table}_release"`,
  };
}

type FunctionName = 'acquire' | 'release' | 'trim';

/** The functions' signatures (with `<table>_trim`, see history-trim.ts), for `to_regprocedure()`. */
export function functionSignatures(table: LockTable): Record<FunctionName, string> {
  const names = functionNames(table);
  return {
    acquire: `${names.acquire}(${ACQUIRE_ARGS})`,
    release: `${names.release}(${RELEASE_ARGS})`,
    trim: `${trimFunctionName(table)}(${TRIM_ARGS})`,
  };
}

const ACQUIRE_ARGS =
  'text, text, double precision, bigint, double precision, text, boolean, integer';
const RELEASE_ARGS =
  'text, text, double precision, text, bigint, bigint, double precision, integer, text[]' +
  ', boolean, boolean';

/**
 * The functions answer one text, their fields joined by commas (a null field empty, a boolean `t`
 * or `f`), which the client splits: `pg` describes every column of a reply on every call and builds
 * a parser and a row for them, which for the acquire's six fields cost more than the rest of its
 * handling of the reply. A later version may add fields at the end, never move one.
 *
 * The acquire's: fence (null when refused) · reason · ok_at · paused · prev · refreshed.
 */
const ACQUIRE_ANSWER = `pg_catalog.concat(fence, ',', reason, ',', ok_at, ',', paused, ',', prev, ',', refreshed)`;

/** The release's: released · queued · sweep_more (see {@link ACQUIRE_ANSWER}). */
const RELEASE_ANSWER = `pg_catalog.concat(released, ',', queued, ',', sweep_more)`;

/**
 * The functions' version, in their comments ({@link functionsMark}). The schema check replaces
 * functions missing or of a lower version and keeps those of this version or a higher one: during
 * a rolling deploy the instances of the earlier build run on the later build's functions, rather
 * than each start of either build replacing them with its own (and an earlier build with
 * `createTable: false` refusing to start once `schema.sql` was applied for the later one). So a
 * later version's functions must serve the earlier builds: a change to what they take or answer
 * gets new function names instead. Raise it with every change to the functions' SQL; the digest in
 * test/unit/postgres-functions-version.spec.ts fails until it is.
 */
export const FUNCTIONS_VERSION = 3;

/** What the functions' comments hold: `nestjs-cron-lock functions v<FUNCTIONS_VERSION>`. */
export function functionsMark(): string {
  return `${MARK_PREFIX}${FUNCTIONS_VERSION}`;
}

/** The comment's text before the version number; the schema check reads the number after it. */
export const MARK_PREFIX = 'nestjs-cron-lock functions v';

/** The functions' definitions for the default names: what the version pins. */
export function functionsSource(): string {
  return (
    acquireFunctionSql(DEFAULT_NAMES) +
    releaseFunctionSql(DEFAULT_NAMES) +
    trimFunctionSql(DEFAULT_NAMES)
  );
}

const DEFAULT_NAMES: LockTable = {
  qualified: '"public"."cron_lock"',
  display: 'public.cron_lock',
  schema: 'public',
  table: 'cron_lock',
  expiryIndex: '"cron_lock_state_expires_idx"',
  history: '"public"."cron_lock_history"',
  historyDisplay: 'public.cron_lock_history',
};

/** `CREATE OR REPLACE FUNCTION` of each, commented with {@link functionsMark}. */
export function functionsSql(table: LockTable): string {
  const signatures = functionSignatures(table);
  return `${acquireFunctionSql(table)}
COMMENT ON FUNCTION ${signatures.acquire} IS '${functionsMark()}';
${releaseFunctionSql(table)}
COMMENT ON FUNCTION ${signatures.release} IS '${functionsMark()}';
${trimFunctionSql(table)}
COMMENT ON FUNCTION ${signatures.trim} IS '${functionsMark()}';
`;
}

function acquireFunctionSql(table: LockTable): string {
  const T = table.qualified;
  return `CREATE OR REPLACE FUNCTION ${functionNames(table).acquire}(p_name text, p_token text,
  p_ttl float8, p_at bigint, p_state float8, p_instance text, p_force boolean, p_size integer)
RETURNS text LANGUAGE plpgsql AS $body$
DECLARE
  v_now timestamptz := clock_timestamp();
  v_now_ms bigint := floor(extract(epoch FROM v_now) * 1000)::bigint;
  v_latest bigint := v_now_ms + ${MAX_SCHEDULED_AT_AHEAD_MS};
  v_half interval := p_state * interval '0.5 millisecond';
  r record;
  fence bigint;
  reason text := 'held';
  ok_at bigint;
  paused boolean := false;
  prev bigint;
  refreshed boolean := false;
  v_seq bigint;
  v_low bigint;
BEGIN
  -- Each branch sets what it decided and leaves the block; the answer is built once, after it.
  <<decide>>
  BEGIN
  IF p_at > v_latest THEN
    reason := 'ahead';
    EXIT decide;
  END IF;
  SELECT l.ctid AS at_row, l.tick, l.expires_at, l.ok_at, l.state_expires_at, l.merged,
    CASE WHEN l.queued > coalesce(l.tick, -1) AND l.queued < p_at THEN l.queued END AS passed,
    l.paused_at IS NOT NULL AND (l.paused_until IS NULL OR l.paused_until > v_now_ms) AS paused_now,
    l.history_seq, l.history_low
  INTO r FROM ${T} AS l WHERE l.name = p_name FOR UPDATE;
  IF NOT FOUND THEN
    -- First acquisition of the job, or its row was swept: a row another instance inserts
    -- meanwhile is decided by the primary key, as in acquireSql.
    INSERT INTO ${T} AS l (name, token, holder, expires_at, tick, fence, state_expires_at,
      history_seq)
    VALUES (p_name, p_token, p_instance, v_now + p_ttl * interval '1 millisecond', p_at,
      (extract(epoch FROM v_now) * 1000000)::bigint, v_now + p_state * interval '1 millisecond',
      ${newestSeqSql(table, 'p_name')})
    ON CONFLICT (name) DO UPDATE SET token = excluded.token, holder = excluded.holder,
      expires_at = excluded.expires_at, tick = coalesce(excluded.tick, l.tick),
      fence = greatest(l.fence + 1, excluded.fence),
      state_expires_at = CASE WHEN l.state_expires_at - v_now >= v_half
        THEN l.state_expires_at ELSE excluded.state_expires_at END
    WHERE (p_at IS NULL OR l.tick IS NULL OR l.tick < p_at OR l.tick > v_latest)
      AND (l.expires_at IS NULL OR l.expires_at <= v_now)
    RETURNING CASE WHEN l.token = p_token THEN l.fence END INTO fence;
    EXIT decide;
  END IF;
  ok_at := r.ok_at;
  prev := greatest(CASE WHEN r.tick < p_at THEN r.tick END,
    CASE WHEN r.merged < p_at THEN r.merged END);
  IF p_at IS NOT NULL AND r.tick >= p_at AND r.tick <= v_latest THEN
    reason := 'tick-done';
    paused := r.paused_now;
    EXIT decide;
  END IF;
  IF r.paused_now AND NOT p_force THEN
    -- Paused: the first acquisition of an occurrence claims it (moves only the tick and the
    -- row's expiry) and records it, after a queued occurrence it passes.
    reason := 'paused';
    paused := true;
    IF p_at IS NULL THEN
      EXIT decide;
    END IF;
    -- The entries (the passed one, then this one) take the row's next numbers; of more than
    -- p_size, only the newest p_size are written.
    v_low := r.history_low;
    v_seq := r.history_seq + CASE WHEN p_size <= 0 THEN 0
      WHEN r.passed IS NULL OR p_size = 1 THEN 1 ELSE 2 END;
    UPDATE ${T} AS l SET tick = p_at, state_expires_at = CASE
      WHEN l.state_expires_at - v_now >= v_half THEN l.state_expires_at
      ELSE v_now + p_state * interval '1 millisecond' END,
      history_seq = v_seq, history_low = CASE WHEN p_size > 0
        THEN greatest(v_low, v_seq - p_size + 1) ELSE v_low END
    WHERE l.ctid = r.at_row;
    refreshed := coalesce(r.state_expires_at - v_now < v_half, false);
    IF p_size > 0 THEN
      INSERT INTO ${table.history} (name, seq, entry, expires_at)
      SELECT p_name, v_seq + o.n - 2, pg_catalog.json_build_object('kind', 'paused',
          'scheduledAt', o.at, 'finishedAt', v_now_ms, 'instanceId', p_instance)::text,
        v_now + p_state * interval '1 millisecond'
      FROM (VALUES (1, r.passed), (2, p_at)) AS o(n, at)
      WHERE o.at IS NOT NULL AND v_seq + o.n - 2 > r.history_seq ORDER BY o.n;
      ${trimSql(table)}
    END IF;
    EXIT decide;
  END IF;
  IF r.expires_at > v_now THEN
    EXIT decide;
  END IF;
  UPDATE ${T} AS l SET token = p_token, holder = p_instance,
    expires_at = v_now + p_ttl * interval '1 millisecond', tick = coalesce(p_at, l.tick),
    fence = greatest(l.fence + 1, (extract(epoch FROM v_now) * 1000000)::bigint),
    state_expires_at = CASE WHEN l.state_expires_at - v_now >= v_half THEN l.state_expires_at
      ELSE v_now + p_state * interval '1 millisecond' END
  WHERE l.ctid = r.at_row RETURNING l.fence INTO fence;
  refreshed := coalesce(r.state_expires_at - v_now < v_half, false);
  END decide;
  RETURN ${ACQUIRE_ANSWER};
END
$body$;`;
}

function releaseFunctionSql(table: LockTable): string {
  const T = table.qualified;
  const H = table.history;
  // The lock row's update by the ctid its read locked: a statement of its own, or a step of the
  // history's statement (see below).
  const rowUpdate = `UPDATE ${T} AS l SET
      history_seq = v_seq, history_low = CASE WHEN v_add > 0
        THEN greatest(v_low, v_seq - p_size + 1) ELSE v_low END,
      token = CASE WHEN released AND p_keep <= 0 THEN NULL ELSE l.token END,
      expires_at = CASE WHEN NOT released THEN l.expires_at
        WHEN p_keep > 0 THEN v_now + p_keep * interval '1 millisecond' END,
      fails = CASE WHEN v_ok THEN 0 ELSE l.fails + 1 END, outcome = p_outcome, end_at = v_fin,
      ok_at = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= v_fin) THEN v_fin ELSE l.ok_at END,
      ok_ms = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= v_fin) THEN p_duration
        ELSE l.ok_ms END
    WHERE l.ctid = v_at`;
  return `CREATE OR REPLACE FUNCTION ${functionNames(table).release}(p_name text, p_token text,
  p_keep float8, p_outcome text, p_duration bigint, p_finished bigint, p_state float8,
  p_size integer, p_entries text[], p_refresh boolean, p_sweep boolean)
RETURNS text LANGUAGE plpgsql AS $body$
DECLARE
  released boolean;
  queued bigint;
  sweep_more boolean := false;
  v_now timestamptz := clock_timestamp();
  v_fin bigint := least(p_finished, floor(extract(epoch FROM v_now) * 1000)::bigint);
  v_ok boolean := p_outcome = 'completed';
  v_expiry timestamptz;
  v_swept integer;
  -- The entries this release writes: the newest p_size of p_entries.
  v_add integer := CASE WHEN p_size > 0
    THEN least(coalesce(pg_catalog.cardinality(p_entries), 0), p_size) ELSE 0 END;
  v_seq bigint;
  v_low bigint;
  v_at tid;
  v_state_expires timestamptz;
BEGIN
  -- Read into variables, not a record: a record is built anew on every call.
  SELECT l.ctid, coalesce(l.token = p_token AND l.expires_at > v_now, false),
    CASE WHEN l.queued > coalesce(l.tick, -1) THEN l.queued END, l.state_expires_at,
    l.history_seq + v_add, l.history_low
  INTO v_at, released, queued, v_state_expires, v_seq, v_low
  FROM ${T} AS l WHERE l.name = p_name FOR UPDATE;
  -- The row's update (by the ctid read under its lock) is in the history's branches below: the
  -- usual release's and one that keeps no history make it a step of the statement that writes
  -- the history, one statement less to set up. Where the row was swept and is re-created here,
  -- v_at is null and the update matches no row.
  IF NOT FOUND THEN
    -- (A SELECT INTO that finds no row sets its variables to null.)
    released := false;
    v_low := 0;
    -- The row was swept: re-created with the outcome and no lock (or, where another instance
    -- inserted it meanwhile, the outcome recorded on that one). Its entries are numbered on from
    -- the job's newest (entries outlive a swept row), and its trim starts at the job's oldest.
    INSERT INTO ${T} AS l (name, fails, outcome, end_at, ok_at, ok_ms, state_expires_at,
      history_seq)
    VALUES (p_name, CASE WHEN v_ok THEN 0 ELSE 1 END, p_outcome, v_fin,
      CASE WHEN v_ok THEN v_fin END, CASE WHEN v_ok THEN p_duration END,
      v_now + p_state * interval '1 millisecond', ${newestSeqSql(table, 'p_name')} + v_add)
    ON CONFLICT (name) DO UPDATE SET history_seq = l.history_seq + v_add,
      fails = CASE WHEN v_ok THEN 0 ELSE l.fails + 1 END, outcome = excluded.outcome,
      end_at = excluded.end_at,
      ok_at = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= excluded.end_at)
        THEN excluded.end_at ELSE l.ok_at END,
      ok_ms = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= excluded.end_at)
        THEN excluded.ok_ms ELSE l.ok_ms END
    RETURNING l.history_seq INTO v_seq;
    IF v_add > 0 THEN
      UPDATE ${T} SET history_low = greatest(history_low, v_seq - p_size + 1) WHERE name = p_name;
    END IF;
  END IF;
  v_expiry := greatest(v_state_expires, v_now + p_state * interval '1 millisecond');
  IF v_add = 1 THEN
    -- The usual release: one entry (the run's own), the list's last, numbered v_seq.
    -- Its trim rides in the same statement (one statement less to set up): an empty range while
    -- the history is not full. Both read after the row's lock, as the trim alone would.
    -- The row's update rides in it too: data-modifying steps all run, on one snapshot.
    WITH updated AS (${rowUpdate}), trimmed AS (${trimDeleteSql(table)})
    INSERT INTO ${H} (name, seq, entry, expires_at)
    VALUES (p_name, v_seq, p_entries[pg_catalog.array_upper(p_entries, 1)], v_expiry);
  ELSIF p_size <= 0 THEN
    -- No history kept (v_add is 0): the job's entries go, in the row's update's statement.
    WITH updated AS (${rowUpdate})
    DELETE FROM ${H} WHERE name = p_name;
  ELSE
    ${rowUpdate};
    IF v_add > 0 THEN
      INSERT INTO ${H} (name, seq, entry, expires_at)
      SELECT p_name, v_seq - pg_catalog.cardinality(p_entries) + e.n, e.entry, v_expiry
      FROM pg_catalog.unnest(p_entries) WITH ORDINALITY AS e(entry, n)
      WHERE e.n > pg_catalog.cardinality(p_entries) - p_size ORDER BY e.n;
      ${trimSql(table)}
    END IF;
  END IF;
  IF p_refresh AND p_size > 0 THEN
    UPDATE ${H} SET expires_at = v_expiry WHERE name = p_name AND seq > v_seq - p_size;
  END IF;
  IF p_sweep THEN
    IF p_size > 0 AND pg_catalog.cardinality(p_entries) > 0 THEN
      DELETE FROM ${H} WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM ${H} WHERE expires_at < v_now
        ORDER BY expires_at LIMIT ${SWEEP_LIMIT} FOR UPDATE SKIP LOCKED));
      GET DIAGNOSTICS v_swept = ROW_COUNT;
      sweep_more := v_swept >= ${SWEEP_LIMIT};
    END IF;
    DELETE FROM ${T} WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM ${T} WHERE state_expires_at < v_now
        AND (expires_at IS NULL OR expires_at <= v_now) AND name <> p_name
      ORDER BY state_expires_at LIMIT ${SWEEP_LIMIT} FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS v_swept = ROW_COUNT;
    sweep_more := sweep_more OR v_swept >= ${SWEEP_LIMIT};
  END IF;
  RETURN ${RELEASE_ANSWER};
END
$body$;`;
}
