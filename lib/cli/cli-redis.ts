import type { Redis } from 'ioredis';
import { RedisLockStore } from '../stores/redis/redis-lock.store.js';
import { createLockClient, secretsOf } from '../stores/redis/redis-connection.js';
import { describeStoreError, redactUrl } from '../utils/redact.js';
import { withTimeout } from '../utils/with-timeout.js';
import { CliError } from './cli.errors.js';

/** How long the command waits for Redis to answer, connecting included. */
const CLI_TIMEOUT_MS = 5_000;

/** A connection for one command: the store reads and frees locks exactly as the module does. */
export interface CliConnection {
  readonly client: Redis;
  readonly store: RedisLockStore;
  /** `redis://host:port/db` with the password hidden, for messages. */
  readonly address: string;
  /** Makes any error text safe to print (no password, no URL user info, no full token). */
  describe(error: unknown): string;
  close(): Promise<void>;
}

/**
 * Connects with the module's lock-client settings (no offline queue, no replayed commands), but
 * short timeouts and no reconnection: a command line tool should fail fast and say why.
 * Throws a {@link CliError} with a redacted message when Redis cannot be reached.
 */
export async function openConnection(url: string, keyPrefix: string): Promise<CliConnection> {
  const secrets = secretsOf(url);
  const address = redactUrl(url);
  const describe = (error: unknown): string => describeStoreError(error, secrets);
  const client = createLockClient({
    url,
    lazyConnect: true,
    connectTimeout: CLI_TIMEOUT_MS,
    commandTimeout: CLI_TIMEOUT_MS,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  // Without a listener ioredis prints raw errors (which may carry the connection options).
  client.on('error', (error: unknown) => (lastError = error));

  try {
    await withTimeout(
      client.connect(),
      CLI_TIMEOUT_MS,
      `no answer within ${CLI_TIMEOUT_MS / 1_000}s`,
    );
  } catch (error) {
    if (client.status !== 'end') {
      // Only while still connecting: on an ended client it would hold the process ~2 s more.
      client.disconnect();
    }
    throw new CliError(`Cannot reach Redis at ${address}: ${describe(lastError ?? error)}`);
  }

  const store = new RedisLockStore(client, { keyPrefix, logger: false });
  return {
    client,
    store,
    address,
    describe,
    close: async () => {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
