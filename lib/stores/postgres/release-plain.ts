import { runStatement, type PostgresPool, type Statement } from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';

/**
 * Frees a plain lock only if the caller still owns it and it has not expired (a late release must
 * never free another instance's lock). Records nothing: no outcome, no history, no sweep; the
 * row stays, with its occurrence marker and fencing token, so the next token of the name counts
 * on from the stored one. Freeing in place changes no indexed column (a HOT update), cheaper
 * than a delete and the insert of the next acquire.
 *
 * $1 name · $2 token · returns one row when released, none when not ours
 */
export function releasePlainSql(table: LockTable): string {
  return `UPDATE ${table.qualified} SET token = NULL, expires_at = NULL
WHERE name = $1 AND token = $2 AND expires_at > clock_timestamp()
RETURNING 1 AS released`;
}

/** Sends {@link releasePlainSql}; resolves `true` when the lock was ours. */
export async function releasePlainLock(
  pool: PostgresPool,
  sql: Statement,
  name: string,
  token: string,
  timeout: number,
): Promise<boolean> {
  const rows = await runStatement(pool, sql, [name, token], timeout);
  return rows.length === 1;
}
