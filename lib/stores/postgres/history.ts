import type { HistoryEntry } from '../lock-store.interface.js';
import { parseEntry } from '../history-entries.js';
import { runStatement, type PostgresPool, type Statement } from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';

// Checked by the store before its guard, so that a bad limit is never reported as a store error.
export { checkHistoryLimit } from '../history-entries.js';

/**
 * The job's last entries, newest first (by `id`), expired ones left out: the release and the
 * acquire write them (see releaseSql, acquireSql). $1 name · $2 limit
 */
export function historySql(table: LockTable): string {
  return `SELECT entry FROM ${table.history}
WHERE name = $1 AND expires_at > clock_timestamp() ORDER BY id DESC LIMIT $2`;
}

/**
 * A delete that trims job `name`'s history to the newest entries: it finds the newest entry to
 * drop (`ORDER BY id DESC OFFSET keep LIMIT 1`, a backward scan of the job's index, no sort of
 * all its entries) and deletes it and every older one of the job by an index range. `name`,
 * `keep` and `when` are SQL of the statement or function it is part of: `$1` in the statements,
 * `p_name` in the schema's functions (a data-modifying CTE does not see the rows its siblings
 * insert, so there `keep` leaves room for them). Without `when`, it always runs.
 */
export function historyTrimSql(
  table: LockTable,
  name: string,
  keep: string,
  when?: string,
): string {
  return `DELETE FROM ${table.history} WHERE name = ${name} AND id <= (
    ${newestToDropSql(table, name, keep)}
  )${when === undefined ? '' : ` AND ${when}`}`;
}

/**
 * The id of job `name`'s newest entry beyond the newest `keep`, if it has more (SQL as above).
 *
 * It walks the job's range of the `(name, id)` index backward, whatever the statistics: with
 * `name = …` the planner drops `name` from the sort as a constant, and may then walk the primary
 * key's ids, newest first, through every job's entries, filtering by name (its pick for a plan
 * of any name once a few jobs have long histories). `= ANY` of the one name is the same rows, and
 * keeps the sort on both columns, which only that index gives.
 */
export function newestToDropSql(table: LockTable, name: string, keep: string): string {
  return `SELECT id FROM ${table.history} WHERE name = ANY (ARRAY[${name}::text])
    ORDER BY name DESC, id DESC OFFSET greatest(${keep}, 0) LIMIT 1`;
}

/**
 * Two CTEs, `<kind>_entry` and `<kind>_trim`, that record occurrence `$4` of job `$1` as a
 * `paused` or `merged` entry (as occurrenceEntry writes one: by instance `$6`, at the database
 * clock's `now_ms`, kept `$5` ms) and trim the history to `$8` entries, when `$8` is positive
 * and `when` holds. `earlier`: SQL of an earlier occurrence to record the same way before `$4`
 * when it is not null. Needs a `clock` CTE with `now` and `now_ms`.
 */
export function occurrenceEntrySql(
  table: LockTable,
  kind: 'paused' | 'merged',
  when: string,
  earlier = 'NULL::bigint',
): string {
  const added = `(CASE WHEN ${earlier} IS NULL THEN 1 ELSE 2 END)`;
  return `${kind}_entry AS (
  INSERT INTO ${table.history} (name, entry, expires_at)
  SELECT $1, pg_catalog.json_build_object('kind', '${kind}', 'scheduledAt', o.at,
      'finishedAt', clock.now_ms, 'instanceId', $6::text)::text,
    clock.now + $5::float8 * interval '1 millisecond'
  FROM clock, (VALUES (1, ${earlier}), (2, $4::bigint)) AS o(n, at)
  WHERE $8::int > 0 AND ${when} AND o.at IS NOT NULL
  ORDER BY o.n
),
${kind}_trim AS (
  ${historyTrimSql(table, '$1', `$8::int - ${added}`, `$8::int > 0 AND ${when}`)}
)`;
}

/**
 * Gives job `$1`'s history entries its row's expiry, where theirs is earlier: after an
 * acquisition that moved the row's expiry and has no release to carry the refresh (a paused
 * occurrence's claim takes no lock; see releaseSql for the release's own refresh). $1 name
 */
export function historyExpirySql(table: LockTable): string {
  return historyExpiryStep(
    table,
    `(SELECT state_expires_at FROM ${table.qualified} WHERE name = $1)`,
  );
}

/**
 * The statement (or final step) that gives job `$1`'s history entries the expiry `expiresAt`
 * (SQL: the row's new expiry) where theirs is earlier.
 */
export function historyExpiryStep(table: LockTable, expiresAt: string): string {
  return `UPDATE ${table.history} SET expires_at = ${expiresAt}
WHERE name = $1 AND expires_at < ${expiresAt}`;
}

/**
 * Sends {@link historyExpirySql} for a job in `refreshHistory`, and takes it out of the set once
 * the statement ran. A failure leaves it in, for the job's next paused answer or release to try
 * again: the acquisition it follows has answered, and the entries have at least half the state
 * ttl left (the row's expiry moves only once less than half of it is).
 */
export async function refreshHistoryExpiry(
  pool: PostgresPool,
  sql: Statement,
  name: string,
  timeout: number,
  refreshHistory: Set<string>,
): Promise<void> {
  try {
    await runStatement(pool, sql, [name], timeout);
    refreshHistory.delete(name);
  } catch {
    // Tried again as said above; the acquisition's answer stands.
  }
}

/** Sends {@link historySql}; an entry that does not parse is left out rather than failing the read. */
export async function readHistory(
  pool: PostgresPool,
  table: LockTable,
  name: string,
  limit: number,
  timeout: number,
): Promise<HistoryEntry[]> {
  if (limit <= 0) {
    return [];
  }
  const rows = await runStatement<{ entry: string }>(
    pool,
    historySql(table),
    [name, limit],
    timeout,
  );
  return rows
    .map((row) => parseEntry(row.entry))
    .filter((entry): entry is HistoryEntry => entry !== null);
}
