import { Cluster, type Redis } from 'ioredis';
import type { LockStore } from '../stores/lock-store.interface.js';
import { RedisLockStore } from '../stores/redis/redis-lock.store.js';
import {
  createLockClient,
  LOCK_CLUSTER_DEFAULTS,
  secretsOf,
} from '../stores/redis/redis-connection.js';
import { refusedSelectOf } from '../stores/redis/database-select.js';
import { describeRedisError } from '../stores/redis/redis-errors.js';
import { describeStoreError, redactUrl } from '../utils/redact.js';
import { withTimeout } from '../utils/with-timeout.js';
import { CliError } from './cli.errors.js';

/** How long the command waits for Redis to answer, connecting included. */
const CLI_TIMEOUT_MS = 5_000;
/**
 * Jobs `status` reads at once on Redis: one connection pipelines them, so more than PostgreSQL's
 * pool allows keeps a remote server's round trips from adding up, and the queue stays short.
 */
const REDIS_READS_AT_ONCE = 32;

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
  /**
   * How many jobs `status` reads at once. A store may hold a name per entity an app locks: tens
   * of thousands of reads sent together would wait past the command's deadline (for a pooled
   * connection on PostgreSQL, in the pipeline on Redis).
   */
  readonly readsAtOnce: number;
  /** The owner token of the job's live lock, `null` when free. */
  lockToken(job: string): Promise<string | null>;
  /**
   * How long `trigger` waits for the trigger channel to listen before it gives up, in ms: the
   * Redis store's subscriber has no deadline of its own.
   */
  readonly listenTimeout: number;
  /** Makes any error text safe to print (no password, no URL user info, no full token). */
  describe(error: unknown): string;
  /**
   * Calls `listener` once the connection ended for good, with why (redacted); returns what stops
   * listening. Absent when the connection comes back by itself (PostgreSQL's pool connects anew).
   */
  onLost?(listener: (why: string) => void): () => void;
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
    // A refused SELECT dropped the connection: its reply names the database, the drop does not.
    const refused = refusedSelectOf(client);
    throw new CliError(
      refused === undefined
        ? `Cannot reach Redis at ${address}: ${describe(lastError ?? error)}`
        : `Cannot use Redis at ${address}: ${describeRedisError(refused, secrets)}`,
    );
  }

  // A Cluster node's URL: reconnect as a Cluster client, so every command reaches every master.
  const lockClient = (await isClusterNode(client))
    ? await openCluster(client, describe, address)
    : client;
  const store = new RedisLockStore(lockClient, { keyPrefix, logger: false });
  return {
    store,
    address,
    namespace: 'prefix',
    // SCAN on every master of a Cluster, on the one server otherwise.
    jobNames: () => store.listJobs(),
    readsAtOnce: REDIS_READS_AT_ONCE,
    lockToken: (job) => lockClient.get(store.keysOf(job).lock),
    listenTimeout: CLI_TIMEOUT_MS,
    describe,
    // No reconnection (see above): a connection that closed stays closed.
    onLost: (listener) => {
      const ended = (): void =>
        listener(lastError === undefined ? 'the server closed it' : describe(lastError));
      lockClient.once('end', ended);
      return () => lockClient.off('end', ended);
    },
    close: async () => {
      // The trigger channel's subscriber first: one still connecting would keep the process up.
      await store.close();
      try {
        await lockClient.quit();
      } catch {
        lockClient.disconnect();
      }
    },
  };
}

/** Whether the server runs in cluster mode (`INFO cluster`); a refused INFO counts as no. */
async function isClusterNode(client: Redis): Promise<boolean> {
  try {
    return /^cluster_enabled:1\b/m.test(await client.info('cluster'));
  } catch {
    return false;
  }
}

/**
 * A Cluster client seeded with the node the URL names, with its credentials and TLS settings
 * and the same fail-fast settings as the single-server connection. The seed connection closes.
 */
async function openCluster(
  seed: Redis,
  describe: (error: unknown) => string,
  address: string,
): Promise<Cluster> {
  const { host, port, username, password, tls } = seed.options;
  await seed.quit().catch(() => seed.disconnect());
  const cluster = new Cluster([{ host: host ?? '127.0.0.1', port: port ?? 6379 }], {
    ...LOCK_CLUSTER_DEFAULTS,
    lazyConnect: true,
    clusterRetryStrategy: () => null,
    redisOptions: {
      ...LOCK_CLUSTER_DEFAULTS.redisOptions,
      username,
      password,
      tls,
      connectTimeout: CLI_TIMEOUT_MS,
      commandTimeout: CLI_TIMEOUT_MS,
    },
  });
  let lastError: unknown;
  cluster.on('error', (error: unknown) => (lastError = error));
  try {
    await withTimeout(
      cluster.connect(),
      CLI_TIMEOUT_MS,
      `no answer within ${CLI_TIMEOUT_MS / 1_000}s`,
    );
  } catch (error) {
    cluster.disconnect();
    throw new CliError(
      `Cannot reach the Redis Cluster at ${address}: ${describe(lastError ?? error)}`,
    );
  }
  return cluster;
}
