-- nestjs-cron-lock: the PostgreSQL lock table, for teams whose app role has no DDL rights.
--
-- Apply it once as a role that may create tables in the schema (the table's owner), e.g.
--   psql "$OWNER_DATABASE_URL" -f node_modules/nestjs-cron-lock/dist/postgres/schema.sql
-- then give the app role what the store needs, and nothing more:
--   GRANT USAGE ON SCHEMA public TO app;
--   GRANT SELECT, INSERT, UPDATE, DELETE ON public.cron_lock, public.cron_lock_history TO app;
-- and create the store with createTable: false:
--   new PostgresLockStore(pool, { createTable: false })
--
-- Another schema or table name: replace "public" and "cron_lock" below (and the index names) and
-- pass the same names as the schema and table options. Names are 1 to 40 characters among
-- a-z 0-9 _, not starting with a digit.
--
-- This is what the store itself runs when createTable is true (the default). Applied again over a
-- table made by an earlier version, it adds what is missing (the pause and schedule columns, the
-- history table) and changes nothing else.

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
  ADD COLUMN IF NOT EXISTS time_zone text;
CREATE TABLE IF NOT EXISTS "public"."cron_lock_history" (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  entry text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS "cron_lock_history_name_idx" ON "public"."cron_lock_history" (name, id);
CREATE INDEX IF NOT EXISTS "cron_lock_history_expires_idx" ON "public"."cron_lock_history" (expires_at);
