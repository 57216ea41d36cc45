import { describeStoreError, secretParamsOf } from '../../utils/redact.js';
import { POSTGRES_READ_ONLY } from './postgres.messages.js';

/**
 * A redacted one-line description of a `pg` error: its class, its SQLSTATE when the server sent
 * one (`57014` a statement timeout, `42501` a missing privilege), and its message with any
 * connection string's user info and any known secret hidden. Never the raw error, which carries
 * the query's parameters (owner tokens) and, for connection errors, the client's settings.
 */
export function describePostgresError(error: unknown, secrets: readonly string[] = []): string {
  const code = sqlState(error);
  const detail = describeStoreError(error, secrets);
  if (code === undefined) {
    return detail;
  }
  // The server's own text names neither a standby nor the fix; the role's setting looks the same.
  return code === READ_ONLY_TRANSACTION
    ? `${detail} (SQLSTATE ${code}): ${POSTGRES_READ_ONLY}`
    : `${detail} (SQLSTATE ${code})`;
}

/** `read_only_sql_transaction`: a write (or `SELECT … FOR UPDATE`) in a read-only transaction. */
const READ_ONLY_TRANSACTION = '25006';

/**
 * Whether a failed statement's connection may go back to the pool. A server error leaves it in
 * sync, except when the server is ending it (`57P01` and friends: a shutdown, a crash) and when it
 * answered read-only (`25006`): a session on a hot standby, as one still on the old primary after a
 * failover is, stays read-only for its whole life. Lent again, it would fail every statement for as
 * long as the pool keeps it busy (a pool lends its most recently used connection first, so a
 * per-second job keeps it from ever idling out), while a new connection reaches the new primary.
 */
export function keepsConnection(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && !code.startsWith('57P') && code !== READ_ONLY_TRANSACTION;
}

/** The five-character SQLSTATE of a server error, if the error is one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  // Class 00-58, F0, HV, P0 or XX: not a Node error code such as EPIPE.
  return typeof code === 'string' && /^(?:[0-5][0-9A-Z]|F0|HV|P0|XX)[0-9A-Z]{3}$/.test(code)
    ? code
    : undefined;
}

/**
 * SQLSTATEs of a statement the server refuses whatever the moment it is sent: a privilege the
 * role lacks on the table (`42501`), a table or a column that is not there (`42P01`, `42703`).
 */
const REFUSALS = new Set(['42501', '42P01', '42703']);

/**
 * Whether a `pg` error is the server's refusal of the statement itself, which the same statement
 * meets again however soon it is sent (see `LockStoreError.answered`): it ran nothing. Not a
 * state the server is in for a while (a statement timeout, a lock or serialization failure, too
 * many connections, a shutdown) nor an error of the client (a timeout, a closed connection):
 * those are no answer.
 */
export function isRefusal(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && REFUSALS.has(code);
}

/**
 * The secrets of a connection string: the whole string and its password, each hidden wherever
 * it shows up in an error.
 */
export function secretsOfConnectionString(connectionString: string): string[] {
  const secrets = [connectionString];
  try {
    const url = new URL(connectionString);
    const password = decodeURIComponent(url.password);
    if (password.length > 0) {
      secrets.push(password);
    }
    // pg also takes `?password=` and `?sslpassword=` from the query string.
    secrets.push(...secretParamsOf(url));
  } catch {
    // Not a URL (a key=value string): the whole string is already hidden.
  }
  return secrets;
}
