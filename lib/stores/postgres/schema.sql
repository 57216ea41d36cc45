-- nestjs-cron-lock: the PostgreSQL lock table, for teams whose app role has no DDL rights.
--
-- Apply it once as a role that may create tables in the schema (the table's owner), e.g.
--   psql "$OWNER_DATABASE_URL" -f node_modules/nestjs-cron-lock/dist/postgres/schema.sql
-- then give the app role what the store needs, and nothing more:
--   GRANT USAGE ON SCHEMA public TO app;
--   GRANT SELECT, INSERT, UPDATE, DELETE ON public.cron_lock, public.cron_lock_history TO app;
--   GRANT EXECUTE ON FUNCTION public.cron_lock_acquire, public.cron_lock_release,
--     public.cron_lock_trim TO app;
-- and create the store with createTable: false:
--   new PostgresLockStore(pool, { createTable: false })
--
-- Another schema or table name: replace "public" and "cron_lock" below (and the index and function
-- names) and pass the same names as the schema and table options. Names are 1 to 40 characters
-- among a-z 0-9 _, not starting with a digit.
--
-- This is what the store itself runs when createTable is true (the default). Applied again over a
-- table made by an earlier version, it adds what is missing (the overlap, pause and schedule columns,
-- the history table, the history entries' numbers: entries it finds keep none and read as the oldest,
-- until new ones trim them), replaces the index the numbers replace and the schema's functions
-- (<table>_acquire, <table>_release, <table>_trim, which run with the caller's rights), and changes
-- nothing else.

CREATE TABLE IF NOT EXISTS "public"."cron_lock" (
  name text PRIMARY KEY,
  token text,
  holder text,
  expires_at timestamptz,
  tick bigint,
  fence bigint NOT NULL DEFAULT 0,
  ok_at bigint,
  ok_ms bigint,
  fails integer NOT NULL DEFAULT 0,
  outcome text,
  end_at bigint,
  state_expires_at timestamptz NOT NULL
) WITH (fillfactor = 70);
CREATE INDEX IF NOT EXISTS "cron_lock_state_expires_idx" ON "public"."cron_lock" (state_expires_at);
ALTER TABLE "public"."cron_lock"
  ADD COLUMN IF NOT EXISTS paused_at bigint,
  ADD COLUMN IF NOT EXISTS pause_reason text,
  ADD COLUMN IF NOT EXISTS paused_until bigint,
  ADD COLUMN IF NOT EXISTS cron text,
  ADD COLUMN IF NOT EXISTS time_zone text,
  ADD COLUMN IF NOT EXISTS queued bigint,
  ADD COLUMN IF NOT EXISTS merged bigint,
  ADD COLUMN IF NOT EXISTS repl text,
  ADD COLUMN IF NOT EXISTS history_seq bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS history_low bigint NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS "public"."cron_lock_history" (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  entry text NOT NULL,
  expires_at timestamptz NOT NULL
);
ALTER TABLE "public"."cron_lock_history" ADD COLUMN IF NOT EXISTS seq bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS "cron_lock_history_seq_idx" ON "public"."cron_lock_history" (name, seq);
DROP INDEX IF EXISTS "public"."cron_lock_history_name_idx";
CREATE INDEX IF NOT EXISTS "cron_lock_history_expires_idx" ON "public"."cron_lock_history" (expires_at);
CREATE OR REPLACE FUNCTION "public"."cron_lock_acquire"(p_name text, p_token text,
  p_ttl float8, p_at bigint, p_state float8, p_instance text, p_force boolean, p_size integer)
RETURNS text LANGUAGE plpgsql AS $body$
DECLARE
  v_now timestamptz := clock_timestamp();
  v_now_ms bigint := floor(extract(epoch FROM v_now) * 1000)::bigint;
  v_latest bigint := v_now_ms + 900000;
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
  INTO r FROM "public"."cron_lock" AS l WHERE l.name = p_name FOR UPDATE;
  IF NOT FOUND THEN
    -- First acquisition of the job, or its row was swept: a row another instance inserts
    -- meanwhile is decided by the primary key, as in acquireSql.
    INSERT INTO "public"."cron_lock" AS l (name, token, holder, expires_at, tick, fence, state_expires_at,
      history_seq)
    VALUES (p_name, p_token, p_instance, v_now + p_ttl * interval '1 millisecond', p_at,
      (extract(epoch FROM v_now) * 1000000)::bigint, v_now + p_state * interval '1 millisecond',
      (SELECT coalesce(pg_catalog.max(h.seq), 0) FROM "public"."cron_lock_history" AS h WHERE h.name = p_name))
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
    UPDATE "public"."cron_lock" AS l SET tick = p_at, state_expires_at = CASE
      WHEN l.state_expires_at - v_now >= v_half THEN l.state_expires_at
      ELSE v_now + p_state * interval '1 millisecond' END,
      history_seq = v_seq, history_low = CASE WHEN p_size > 0
        THEN greatest(v_low, v_seq - p_size + 1) ELSE v_low END
    WHERE l.ctid = r.at_row;
    refreshed := coalesce(r.state_expires_at - v_now < v_half, false);
    IF p_size > 0 THEN
      INSERT INTO "public"."cron_lock_history" (name, seq, entry, expires_at)
      SELECT p_name, v_seq + o.n - 2, pg_catalog.json_build_object('kind', 'paused',
          'scheduledAt', o.at, 'finishedAt', v_now_ms, 'instanceId', p_instance)::text,
        v_now + p_state * interval '1 millisecond'
      FROM (VALUES (1, r.passed), (2, p_at)) AS o(n, at)
      WHERE o.at IS NOT NULL AND v_seq + o.n - 2 > r.history_seq ORDER BY o.n;
      IF v_seq - p_size >= v_low THEN
      DELETE FROM "public"."cron_lock_history" WHERE name = p_name AND seq >= v_low AND seq <= v_seq - p_size;
    END IF;
    END IF;
    EXIT decide;
  END IF;
  IF r.expires_at > v_now THEN
    EXIT decide;
  END IF;
  UPDATE "public"."cron_lock" AS l SET token = p_token, holder = p_instance,
    expires_at = v_now + p_ttl * interval '1 millisecond', tick = coalesce(p_at, l.tick),
    fence = greatest(l.fence + 1, (extract(epoch FROM v_now) * 1000000)::bigint),
    state_expires_at = CASE WHEN l.state_expires_at - v_now >= v_half THEN l.state_expires_at
      ELSE v_now + p_state * interval '1 millisecond' END
  WHERE l.ctid = r.at_row RETURNING l.fence INTO fence;
  refreshed := coalesce(r.state_expires_at - v_now < v_half, false);
  END decide;
  RETURN pg_catalog.concat(fence, ',', reason, ',', ok_at, ',', paused, ',', prev, ',', refreshed);
END
$body$;
COMMENT ON FUNCTION "public"."cron_lock_acquire"(text, text, double precision, bigint, double precision, text, boolean, integer) IS 'nestjs-cron-lock functions v3';
CREATE OR REPLACE FUNCTION "public"."cron_lock_release"(p_name text, p_token text,
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
  FROM "public"."cron_lock" AS l WHERE l.name = p_name FOR UPDATE;
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
    INSERT INTO "public"."cron_lock" AS l (name, fails, outcome, end_at, ok_at, ok_ms, state_expires_at,
      history_seq)
    VALUES (p_name, CASE WHEN v_ok THEN 0 ELSE 1 END, p_outcome, v_fin,
      CASE WHEN v_ok THEN v_fin END, CASE WHEN v_ok THEN p_duration END,
      v_now + p_state * interval '1 millisecond', (SELECT coalesce(pg_catalog.max(h.seq), 0) FROM "public"."cron_lock_history" AS h WHERE h.name = p_name) + v_add)
    ON CONFLICT (name) DO UPDATE SET history_seq = l.history_seq + v_add,
      fails = CASE WHEN v_ok THEN 0 ELSE l.fails + 1 END, outcome = excluded.outcome,
      end_at = excluded.end_at,
      ok_at = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= excluded.end_at)
        THEN excluded.end_at ELSE l.ok_at END,
      ok_ms = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= excluded.end_at)
        THEN excluded.ok_ms ELSE l.ok_ms END
    RETURNING l.history_seq INTO v_seq;
    IF v_add > 0 THEN
      UPDATE "public"."cron_lock" SET history_low = greatest(history_low, v_seq - p_size + 1) WHERE name = p_name;
    END IF;
  END IF;
  v_expiry := greatest(v_state_expires, v_now + p_state * interval '1 millisecond');
  IF v_add = 1 THEN
    -- The usual release: one entry (the run's own), the list's last, numbered v_seq.
    -- Its trim rides in the same statement (one statement less to set up): an empty range while
    -- the history is not full. Both read after the row's lock, as the trim alone would.
    -- The row's update rides in it too: data-modifying steps all run, on one snapshot.
    WITH updated AS (UPDATE "public"."cron_lock" AS l SET
      history_seq = v_seq, history_low = CASE WHEN v_add > 0
        THEN greatest(v_low, v_seq - p_size + 1) ELSE v_low END,
      token = CASE WHEN released AND p_keep <= 0 THEN NULL ELSE l.token END,
      expires_at = CASE WHEN NOT released THEN l.expires_at
        WHEN p_keep > 0 THEN v_now + p_keep * interval '1 millisecond' END,
      fails = CASE WHEN v_ok THEN 0 ELSE l.fails + 1 END, outcome = p_outcome, end_at = v_fin,
      ok_at = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= v_fin) THEN v_fin ELSE l.ok_at END,
      ok_ms = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= v_fin) THEN p_duration
        ELSE l.ok_ms END
    WHERE l.ctid = v_at), trimmed AS (DELETE FROM "public"."cron_lock_history" WHERE name = p_name AND seq >= v_low AND seq <= v_seq - p_size)
    INSERT INTO "public"."cron_lock_history" (name, seq, entry, expires_at)
    VALUES (p_name, v_seq, p_entries[pg_catalog.array_upper(p_entries, 1)], v_expiry);
  ELSIF p_size <= 0 THEN
    -- No history kept (v_add is 0): the job's entries go, in the row's update's statement.
    WITH updated AS (UPDATE "public"."cron_lock" AS l SET
      history_seq = v_seq, history_low = CASE WHEN v_add > 0
        THEN greatest(v_low, v_seq - p_size + 1) ELSE v_low END,
      token = CASE WHEN released AND p_keep <= 0 THEN NULL ELSE l.token END,
      expires_at = CASE WHEN NOT released THEN l.expires_at
        WHEN p_keep > 0 THEN v_now + p_keep * interval '1 millisecond' END,
      fails = CASE WHEN v_ok THEN 0 ELSE l.fails + 1 END, outcome = p_outcome, end_at = v_fin,
      ok_at = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= v_fin) THEN v_fin ELSE l.ok_at END,
      ok_ms = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= v_fin) THEN p_duration
        ELSE l.ok_ms END
    WHERE l.ctid = v_at)
    DELETE FROM "public"."cron_lock_history" WHERE name = p_name;
  ELSE
    UPDATE "public"."cron_lock" AS l SET
      history_seq = v_seq, history_low = CASE WHEN v_add > 0
        THEN greatest(v_low, v_seq - p_size + 1) ELSE v_low END,
      token = CASE WHEN released AND p_keep <= 0 THEN NULL ELSE l.token END,
      expires_at = CASE WHEN NOT released THEN l.expires_at
        WHEN p_keep > 0 THEN v_now + p_keep * interval '1 millisecond' END,
      fails = CASE WHEN v_ok THEN 0 ELSE l.fails + 1 END, outcome = p_outcome, end_at = v_fin,
      ok_at = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= v_fin) THEN v_fin ELSE l.ok_at END,
      ok_ms = CASE WHEN v_ok AND (l.ok_at IS NULL OR l.ok_at <= v_fin) THEN p_duration
        ELSE l.ok_ms END
    WHERE l.ctid = v_at;
    IF v_add > 0 THEN
      INSERT INTO "public"."cron_lock_history" (name, seq, entry, expires_at)
      SELECT p_name, v_seq - pg_catalog.cardinality(p_entries) + e.n, e.entry, v_expiry
      FROM pg_catalog.unnest(p_entries) WITH ORDINALITY AS e(entry, n)
      WHERE e.n > pg_catalog.cardinality(p_entries) - p_size ORDER BY e.n;
      IF v_seq - p_size >= v_low THEN
      DELETE FROM "public"."cron_lock_history" WHERE name = p_name AND seq >= v_low AND seq <= v_seq - p_size;
    END IF;
    END IF;
  END IF;
  IF p_refresh AND p_size > 0 THEN
    UPDATE "public"."cron_lock_history" SET expires_at = v_expiry WHERE name = p_name AND seq > v_seq - p_size;
  END IF;
  IF p_sweep THEN
    IF p_size > 0 AND pg_catalog.cardinality(p_entries) > 0 THEN
      DELETE FROM "public"."cron_lock_history" WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM "public"."cron_lock_history" WHERE expires_at < v_now
        ORDER BY expires_at LIMIT 16 FOR UPDATE SKIP LOCKED));
      GET DIAGNOSTICS v_swept = ROW_COUNT;
      sweep_more := v_swept >= 16;
    END IF;
    DELETE FROM "public"."cron_lock" WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM "public"."cron_lock" WHERE state_expires_at < v_now
        AND (expires_at IS NULL OR expires_at <= v_now) AND name <> p_name
      ORDER BY state_expires_at LIMIT 16 FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS v_swept = ROW_COUNT;
    sweep_more := sweep_more OR v_swept >= 16;
  END IF;
  RETURN pg_catalog.concat(released, ',', queued, ',', sweep_more);
END
$body$;
COMMENT ON FUNCTION "public"."cron_lock_release"(text, text, double precision, text, bigint, bigint, double precision, integer, text[], boolean, boolean) IS 'nestjs-cron-lock functions v3';
CREATE OR REPLACE FUNCTION "public"."cron_lock_trim"(p_name text, p_low bigint,
  p_high bigint)
RETURNS integer LANGUAGE plpgsql AS $body$
DECLARE
  v_deleted integer;
BEGIN
  DELETE FROM "public"."cron_lock_history" WHERE name = p_name AND seq >= p_low AND seq <= p_high;
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  RETURN v_deleted;
END
$body$;
COMMENT ON FUNCTION "public"."cron_lock_trim"(text, bigint, bigint) IS 'nestjs-cron-lock functions v3';
