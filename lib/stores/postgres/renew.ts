import type { RenewRequest, RenewResult } from '../lock-store.interface.js';
import { runStatement, type PostgresPool, type Statement } from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';

/**
 * Extends the lock only if the caller still owns it and it has not expired: a plain update of
 * `expires_at` would revive a lock that expired and may already be taken by another instance.
 * `cur` locks the row first, so "taken" and "expired" are told apart on the row as it is now.
 *
 * A holder that a later occurrence under `overlap: 'replace'` asked to stop (`repl` is its token
 * while that occurrence is queued) is told with code 2; its lock is extended all the same.
 *
 * $1 name · $2 token · $3 ttl ms
 * returns code: 1 renewed, 2 renewed and replaced, 0 gone, -1 owned by someone else
 */
export function renewSql(table: LockTable): string {
  return `WITH cur AS MATERIALIZED (
  SELECT token, coalesce(expires_at > clock_timestamp(), false) AS live,
    coalesce(repl = $2 AND queued > coalesce(tick, -1), false) AS replaced
  FROM ${table.qualified} WHERE name = $1 FOR UPDATE
),
renewed AS (
  UPDATE ${table.qualified} AS l
  SET expires_at = clock_timestamp() + $3::float8 * interval '1 millisecond'
  FROM cur WHERE l.name = $1 AND cur.live AND cur.token = $2
  RETURNING 1
)
SELECT CASE WHEN EXISTS (SELECT 1 FROM renewed) THEN
    CASE WHEN (SELECT replaced FROM cur) THEN 2 ELSE 1 END
  WHEN coalesce((SELECT live FROM cur), false) THEN -1 ELSE 0 END AS code`;
}

/** Sends {@link renewSql}. */
export async function renewLock(
  pool: PostgresPool,
  sql: Statement,
  request: RenewRequest,
  timeout: number,
): Promise<RenewResult> {
  const [row] = await runStatement<{ code: number }>(
    pool,
    sql,
    [request.name, request.token, request.ttl],
    timeout,
  );
  const code = Number(row?.code);
  if (code === 1) {
    return { renewed: true };
  }
  if (code === 2) {
    return { renewed: true, replaced: true };
  }
  return { renewed: false, reason: code === -1 ? 'taken' : 'expired' };
}
