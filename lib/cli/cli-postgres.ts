import { PostgresLockStore } from '../stores/postgres/postgres-lock.store.js';
import {
  describePostgresError,
  secretsOfConnectionString,
} from '../stores/postgres/postgres-errors.js';
import { LockStoreError } from '../cron-lock.errors.js';
import {
  POSTGRES_NO_ANSWER,
  POSTGRES_TABLE_MISSING,
  POSTGRES_TRIGGERS_UNHEARD,
} from '../stores/postgres/postgres.messages.js';
import { redactUrl } from '../utils/redact.js';
import { CLI_POSTGRES_TABLE_MISSING, CliError } from './cli.errors.js';
import type { CliConnection } from './cli-redis.js';
import { isNoConnection } from '../stores/postgres/postgres-connection.js';

/** How long the command waits for PostgreSQL to answer, connecting included. */
const CLI_TIMEOUT_MS = 5_000;
/**
 * Jobs `status` reads at once: below the store's own pool (10 connections), so no read waits
 * for a connection behind the others, and each one's deadline counts its own round trip only.
 */
const POSTGRES_READS_AT_ONCE = 8;

/**
 * A PostgreSQL connection for one command, through the module's own store (its own small pool),
 * with `createTable: false`: a command that only reads or frees locks never creates a table.
 * Throws a {@link CliError} with a redacted message when the database cannot be reached.
 */
export async function openPostgresConnection(
  url: string,
  schema: string,
  table: string,
): Promise<CliConnection> {
  const secrets = secretsOfConnectionString(url);
  const address = redactUrl(url);
  const reason = (error: unknown): string =>
    forTheCommand(error) ?? describePostgresError(error, secrets);
  // Past the connection, a message has no "Cannot reach … at" before it to say which server.
  const describe = (error: unknown): string =>
    isNoAnswer(error) ? `PostgreSQL at ${address}: ${reason(error)}` : reason(error);
  const store = new PostgresLockStore(url, {
    schema,
    table,
    createTable: false,
    operationTimeout: CLI_TIMEOUT_MS,
    logger: false,
  });
  try {
    await store.ping();
  } catch (error) {
    await store.close().catch(() => undefined);
    // The server answered the store's check for its table: "Cannot reach" would send the reader
    // to the network, and the store's fix names an option the command does not have.
    if (
      error instanceof LockStoreError &&
      error.message === POSTGRES_TABLE_MISSING(store.tableName)
    ) {
      throw new CliError(CLI_POSTGRES_TABLE_MISSING(store.tableName, address));
    }
    throw new CliError(`Cannot reach PostgreSQL at ${address}: ${reason(error)}`);
  }
  return {
    store,
    address,
    namespace: 'table',
    jobNames: () => store.jobNames(),
    readsAtOnce: POSTGRES_READS_AT_ONCE,
    lockToken: (job) => store.currentToken(job),
    // A backstop only: the store bounds its own subscription (connection, LISTEN and the check
    // that notifications arrive) by operationTimeout, and its reason (a pooler in transaction
    // mode) says more than a deadline here would.
    listenTimeout: 2 * CLI_TIMEOUT_MS,
    describe,
    close: () => store.close(),
  };
}

/**
 * The store's messages whose advice is for an app's configuration, said for the command: it
 * makes its own pool, so "no connection from the pool" only means PostgreSQL did not answer, and
 * the fix for a pooler in transaction mode is another URL. `undefined` for any other error.
 */
function forTheCommand(error: unknown): string | undefined {
  if (isNoAnswer(error)) {
    return `no answer within ${CLI_TIMEOUT_MS / 1_000}s: check that the server is up and reachable from here`;
  }
  if (
    error instanceof LockStoreError &&
    error.message === POSTGRES_TRIGGERS_UNHEARD(CLI_TIMEOUT_MS)
  ) {
    return (
      `notifications did not arrive on the listening connection within ${CLI_TIMEOUT_MS / 1_000}s, ` +
      'as behind a pooler in transaction mode (it keeps no session). Fix: pass --database ' +
      '(or DATABASE_URL) the URL of PostgreSQL itself or of a pooler in session mode'
    );
  }
  return undefined;
}

/** The store got no connection, or no reply, within the command's timeout. */
function isNoAnswer(error: unknown): boolean {
  return (
    error instanceof LockStoreError &&
    (isNoConnection(error) || error.message === POSTGRES_NO_ANSWER(CLI_TIMEOUT_MS))
  );
}
