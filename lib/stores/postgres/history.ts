import type { HistoryEntry } from '../lock-store.interface.js';
import { parseEntry } from '../history-entries.js';
import { runStatement, type PostgresPool, type Statement } from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';
import { trimCallSql } from './history-trim.js';

// Checked by the store before its guard, so that a bad limit is never reported as a store error.
export { checkHistoryLimit } from '../history-entries.js';

/**
 * The job's last entries, newest first (by their number on the job's row, `seq`: every writer
 * takes it under the row's lock, so it is the order they were written; entries an earlier build
 * wrote without one, 0, read as the oldest), expired ones left out: the release and the acquire
 * write them (see releaseSql, acquireSql). $1 name · $2 limit
 */
export function historySql(table: LockTable): string {
  return `SELECT entry FROM ${table.history}
WHERE name = $1 AND expires_at > clock_timestamp() ORDER BY seq DESC, id DESC LIMIT $2`;
}

/**
 * Two CTEs, `<kind>_entry` and `<kind>_trim`, that record occurrence `$4` of job `$1` as a
 * `paused` or `merged` entry (as occurrenceEntry writes one: by instance `$6`, at the database
 * clock's `now_ms`, kept `$5` ms) and trim the history to `$8` entries, when `$8` is positive
 * and `when` holds. `earlier`: SQL of an earlier occurrence to record the same way before `$4`
 * when it is not null. Needs a `clock` CTE with `now` and `now_ms`, and `cur` with the row's
 * `history_seq` and `history_low` as locked: the entries take the next `added` numbers, which
 * the step that updates the row in the same mode adds to it (see acquireSql), and the trim
 * deletes the range from `history_low` to the new last number less `$8` through `<table>_trim`
 * (history-trim.ts: it sees the entries committed while the statement waited for the row). Of
 * more entries than `$8`, only the newest `$8` are written. The trim is a SELECT: the statement's
 * final row must read it (see acquireSql), or it does not run.
 */
export function occurrenceEntrySql(
  table: LockTable,
  kind: 'paused' | 'merged',
  when: string,
  added: string,
  earlier = 'NULL::bigint',
): string {
  return `${kind}_entry AS (
  INSERT INTO ${table.history} (name, seq, entry, expires_at)
  SELECT $1, cur.history_seq + ${added} + o.n - 2,
    pg_catalog.json_build_object('kind', '${kind}', 'scheduledAt', o.at,
      'finishedAt', clock.now_ms, 'instanceId', $6::text)::text,
    clock.now + $5::float8 * interval '1 millisecond'
  FROM clock, cur, (VALUES (1, ${earlier}), (2, $4::bigint)) AS o(n, at)
  WHERE $8::int > 0 AND ${when} AND o.at IS NOT NULL AND ${added} + o.n - 2 > 0
  ORDER BY o.n
),
${kind}_trim AS MATERIALIZED (
  SELECT ${trimCallSql(table, '$1', 'cur.history_low', `cur.history_seq + ${added} - $8::int`)} AS n
  FROM cur WHERE $8::int > 0 AND ${when} AND cur.history_seq + ${added} - $8::int >= cur.history_low
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
