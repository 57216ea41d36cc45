import type { LockTable } from './postgres-table.js';

/**
 * `<table>_trim(name, low, high)`: deletes job `name`'s history entries numbered `low` to `high`
 * (one range of the `(name, seq)` index) and answers how many it deleted. A function of the
 * schema, created and versioned with the cron path's two (see functions.ts), for the statement kept
 * for `overlap: 'queue' | 'replace'` (acquireSql): that statement's own steps read the history in
 * the snapshot it took when it started, before its wait for the job's row, so they do not see the
 * entries other instances added while it waited, and a trim there would leave them behind. A
 * function's statements take a snapshot of their own (PL/pgSQL, VOLATILE), after the row's lock.
 */
export function trimFunctionName(table: LockTable): string {
  return `"${table.schema}"."${table.table}_trim"`;
}

/** Its argument types, for `to_regprocedure()`. */
export const TRIM_ARGS = 'text, bigint, bigint';

/** `CREATE OR REPLACE FUNCTION` of `<table>_trim` (its comment is added with the others'). */
export function trimFunctionSql(table: LockTable): string {
  return `CREATE OR REPLACE FUNCTION ${trimFunctionName(table)}(p_name text, p_low bigint,
  p_high bigint)
RETURNS integer LANGUAGE plpgsql AS $body$
DECLARE
  v_deleted integer;
BEGIN
  DELETE FROM ${table.history} WHERE name = p_name AND seq >= p_low AND seq <= p_high;
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  RETURN v_deleted;
END
$body$;`;
}

/** A call of `<table>_trim` with SQL arguments, each cast to its type (see acquireCallSql). */
export function trimCallSql(table: LockTable, name: string, low: string, high: string): string {
  return `${trimFunctionName(table)}(${name}::text, (${low})::bigint, (${high})::bigint)`;
}

/**
 * Deletes job `p_name`'s entries numbered from `v_low` (the row's `history_low`: every older one
 * is gone) up to `v_seq - p_size` (the row's new last number less this writer's size): one range
 * of the `(name, seq)` index. Skipped while the history is not full.
 */
export function trimSql(table: LockTable): string {
  return `IF v_seq - p_size >= v_low THEN
      ${trimDeleteSql(table)};
    END IF;`;
}

/** The trim's delete alone (see {@link trimSql}); its range is empty while the history is not full. */
export function trimDeleteSql(table: LockTable): string {
  return `DELETE FROM ${table.history} WHERE name = p_name AND seq >= v_low AND seq <= v_seq - p_size`;
}

/** The row's first history number for a job with no row: the job's newest entry's, or 0. */
export function newestSeqSql(table: LockTable, name: string): string {
  return `(SELECT coalesce(pg_catalog.max(h.seq), 0) FROM ${table.history} AS h WHERE h.name = ${name})`;
}
