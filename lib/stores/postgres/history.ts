import type { HistoryEntry } from '../lock-store.interface.js';
import { parseEntry } from '../history-entries.js';
import { runStatement, type PostgresPool } from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';

/**
 * The job's last entries, newest first (by `id`), expired ones left out: the release and the
 * acquire write them (see releaseSql, acquireSql). $1 name · $2 limit
 */
export function historySql(table: LockTable): string {
  return `SELECT entry FROM ${table.history}
WHERE name = $1 AND expires_at > clock_timestamp() ORDER BY id DESC LIMIT $2`;
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
