import type { Redis } from 'ioredis';
import { LOCK_NAME_PATTERN } from '../cron-lock.constants.js';
import type { LockStore } from '../stores/lock-store.interface.js';
import { RedisLockStore } from '../stores/redis/redis-lock.store.js';
import { createLockClient, secretsOf } from '../stores/redis/redis-connection.js';
import { describeStoreError, redactUrl } from '../utils/redact.js';
import { withTimeout } from '../utils/with-timeout.js';
import { CliError } from './cli.errors.js';

/** How long the command waits for Redis to answer, connecting included. */
const CLI_TIMEOUT_MS = 5_000;

/**
 * A connection for one command, to Redis or to PostgreSQL: the store reads and frees locks
 * exactly as the module does.
 */
export interface CliConnection {
  readonly store: LockStore;
  /** `redis://host:port/db` (or `postgres://…`) with the password hidden, for messages. */
  readonly address: string;
  /** What the jobs live under, for messages: a Redis key `prefix`, a PostgreSQL `table`. */
  readonly namespace: 'prefix' | 'table';
  /** Every job with state, sorted. */
  jobNames(): Promise<string[]>;
  /** The owner token of the job's live lock, `null` when free. */
  lockToken(job: string): Promise<string | null>;
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
    store,
    address,
    namespace: 'prefix',
    jobNames: () => scanJobNames(client, keyPrefix),
    lockToken: (job) => client.get(store.keysOf(job).lock),
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

/**
 * Names of every job with state under `prefix`, from `SCAN MATCH <prefix>:{*}:state`. The `{`
 * right after `<prefix>:` keeps another prefix's keys out (`a` never matches `a:b:{job}:state`);
 * a prefix has no glob characters (the module validates it), so it needs no escaping.
 */
async function scanJobNames(client: Redis, prefix: string): Promise<string[]> {
  const head = `${prefix}:{`;
  const tail = '}:state';
  const names = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${head}*${tail}`, 'COUNT', 1_000);
    cursor = next;
    for (const key of keys) {
      const name = key.slice(head.length, key.length - tail.length);
      // `*` may also match keys no job of the module writes (e.g. with braces inside).
      if (LOCK_NAME_PATTERN.test(name)) {
        names.add(name);
      }
    }
  } while (cursor !== '0');
  return [...names].sort();
}
