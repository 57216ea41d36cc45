import { PostgresLockStore } from '../stores/postgres/postgres-lock.store.js';
import {
  describePostgresError,
  secretsOfConnectionString,
} from '../stores/postgres/postgres-errors.js';
import { redactUrl } from '../utils/redact.js';
import { CliError } from './cli.errors.js';
import type { CliConnection } from './cli-redis.js';

/** How long the command waits for PostgreSQL to answer, connecting included. */
const CLI_TIMEOUT_MS = 5_000;

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
  const describe = (error: unknown): string => describePostgresError(error, secrets);
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
    throw new CliError(`Cannot reach PostgreSQL at ${address}: ${describe(error)}`);
  }
  return {
    store,
    address,
    namespace: 'table',
    jobNames: () => store.jobNames(),
    lockToken: (job) => store.currentToken(job),
    // A backstop only: the store bounds its own subscription (connection, LISTEN and the check
    // that notifications arrive) by operationTimeout, and its reason (a pooler in transaction
    // mode) says more than a deadline here would.
    listenTimeout: 2 * CLI_TIMEOUT_MS,
    describe,
    close: () => store.close(),
  };
}
