import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { flushPending } from './ioredis/send.js';
import { dropOnRefusedSelect } from './database-select.js';
import { secretParamsOf } from '../../utils/redact.js';

/**
 * A `READONLY` reply: the server this connection reaches was demoted to a replica (a Sentinel
 * or cloud failover, or an operator's `REPLICAOF`) while the connection stayed open.
 */
export function isReadOnlyReply(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('READONLY');
}

/**
 * On `READONLY`, drop the connection and reconnect (Sentinel then names the new master, a DNS
 * endpoint resolves to it). `1` reconnects WITHOUT resending the command: `2` would replay it,
 * and a replayed lock command is exactly what these defaults rule out. The command itself still
 * fails (an acquire is skipped as `store-error`, a renewal declares the lock lost).
 */
function reconnectOnReadOnly(error: Error): 1 | false {
  return isReadOnlyReply(error) ? 1 : false;
}

/**
 * Connection settings for a client the module creates. Each one closes a way a lock command
 * could run late, twice, or pile up while Redis is away:
 * - no offline queue: a tick while disconnected fails now (and is skipped) instead of queueing
 *   and acquiring minutes later, when the occurrence is long past;
 * - no automatic resend after a reconnect and no per-request retries: a command whose reply was
 *   lost is never replayed behind our back (a replayed acquire would take a lock nobody runs under);
 * - a command timeout: a lost reply surfaces as an error within a bounded time, after which the
 *   runner frees whatever that acquire may have taken;
 * - reconnect forever with a capped backoff: ticks resume by themselves when Redis returns;
 * - reconnect (without resending) on `READONLY`, so a connection left on a demoted master moves
 *   to the new one instead of failing every command until something else breaks it.
 * Options the user passes win over these.
 */
export const LOCK_CLIENT_DEFAULTS: RedisOptions = {
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 2_000,
  connectTimeout: 5_000,
  retryStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2_000),
  reconnectOnError: reconnectOnReadOnly,
  // Sentinel only (ignored otherwise): drop the connection as soon as a Sentinel announces
  // `+switch-master`. Without it the client keeps writing to the old master until Sentinel
  // demotes it, about 10 s later, and every lock written there in between is lost.
  failoverDetector: true,
};

/**
 * The same settings for a `Cluster` client you create and pass as `redis` (the module never
 * creates a Cluster). Node connections get the command timeout, no resend, no retries and the
 * `READONLY` reconnect; the cluster gets no offline queue, so a tick while the cluster is down
 * fails now instead of waiting for it without a timeout.
 *
 * Left at ioredis' defaults on purpose: `maxRedirections` (MOVED/ASK are followed whatever
 * `maxRetriesPerRequest` says; the server refused those commands, so following them is safe) and
 * `retryDelayOnFailover`, which also resends the commands a node rejected while its connection
 * was still opening (without it, a burst of ticks right after startup fails). Its cost: a
 * command in flight when a node connection closes is resent too, and a resent acquire whose
 * first reply was lost answers `held`, leaving that lock without a runner until its ttl.
 *
 * @publicApi
 */
export const LOCK_CLUSTER_DEFAULTS: ClusterOptions = {
  enableOfflineQueue: false,
  redisOptions: {
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: LOCK_CLIENT_DEFAULTS.commandTimeout,
    connectTimeout: LOCK_CLIENT_DEFAULTS.connectTimeout,
    reconnectOnError: reconnectOnReadOnly,
  },
};

/**
 * ioredis options plus a `url`: the way to give a URL settings it cannot carry, such as `tls`
 * (`{ url: 'rediss://…', tls: { ca } }`). What the URL says (host, port, credentials, db) wins
 * over the same options.
 *
 * @publicApi
 */
export interface RedisConnectionOptions extends RedisOptions {
  /** A `redis://` or `rediss://` URL. */
  url?: string;
}

/** What the module was given to reach Redis. */
export type RedisInput = string | RedisConnectionOptions | Redis | Cluster;

/**
 * Whether `value` is an ioredis client, a `Redis` or a `Cluster`. Told by ioredis' own
 * `isCluster` flag (set by both classes) and the methods the store calls, not by `instanceof`
 * alone: an app whose ioredis is another install than the one this package resolves (a nested
 * `node_modules`, another version in the peer range) makes its clients from other classes, which
 * would otherwise be read as connection options naming no server.
 */
export function isRedisClient(value: unknown): value is Redis | Cluster {
  if (value instanceof Redis || value instanceof Cluster) {
    return true;
  }
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const client = value as Record<string, unknown>;
  return (
    typeof client.isCluster === 'boolean' &&
    typeof client.duplicate === 'function' &&
    typeof client.sendCommand === 'function' &&
    typeof client.options === 'object' &&
    client.options !== null
  );
}

/**
 * Whether `client` is a Cluster client, read from ioredis' own flag rather than `instanceof`, so
 * that a client made by another copy of ioredis in the app is told apart too. The one test of
 * it: every Cluster-only path (node options, the trigger subscriber, per-node reads) uses it.
 */
export function isClusterClient(client: Redis | Cluster): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * The options a client's server connections use: a `Cluster` keeps them in `redisOptions`, apart
 * from its own.
 */
export function connectionOptionsOf(client: Redis | Cluster): Partial<RedisOptions> | undefined {
  return isClusterClient(client) ? client.options.redisOptions : client.options;
}

/**
 * The `keyPrefix` ioredis puts before every key of the client's commands (`''` for none), a
 * `Cluster`'s own included. ioredis adds it to keys only: a `SCAN` pattern, the keys a `SCAN`
 * returns and a pub/sub channel need it written out, or they miss the keys the scripts wrote.
 */
export function clientKeyPrefix(client: Redis | Cluster): string {
  const prefix = client.options.keyPrefix;
  return typeof prefix === 'string' ? prefix : '';
}

/**
 * Ends a client a store created: its batched commands sent, then `QUIT`. A plain disconnect when
 * it never connected (a bootstrap that failed before its first command), since a `QUIT` would
 * connect it first, or when the `QUIT` failed (the connection is already gone).
 */
export async function quitOwnClient(client: Redis | Cluster): Promise<void> {
  if (client.status === 'wait') {
    client.disconnect();
    return;
  }
  flushPending(client);
  await client.quit().catch(() => client.disconnect());
}

/**
 * Creates a client with the lock defaults from a URL or options (never from a client). It
 * connects on its first command (`lazyConnect`, unless the options say otherwise), which the
 * store's ready-wait sends: the module's first is at `onApplicationBootstrap`, so a bootstrap that
 * fails before it (an invalid job option, another module's hook) leaves no socket and no
 * reconnection timer open. `NestFactory.createApplicationContext()` never returns a context whose
 * init failed, so nothing could close them, and the process would never exit. A connection whose
 * `SELECT` of the URL's database is refused is dropped, never used on database 0.
 */
export function createLockClient(input: string | RedisConnectionOptions): Redis {
  const client = newLockClient(input);
  dropOnRefusedSelect(client);
  return client;
}

/**
 * The options ioredis builds the lock client from `input` with, read from one built and dropped
 * at once: it connects lazily, so it opens no socket, and every shape (a URL's path and query
 * parameters, the options, the lock defaults) is read by ioredis itself, as the client will be.
 */
export function lockClientOptions(input: string | RedisConnectionOptions): RedisOptions {
  const client = newLockClient(input, true);
  client.disconnect();
  return client.options;
}

function newLockClient(input: string | RedisConnectionOptions, lazy = false): Redis {
  // `lazy`: connect on the first command even when the options say otherwise.
  const last: RedisOptions = lazy ? { lazyConnect: true } : {};
  if (typeof input === 'string') {
    return new Redis(input, { ...LOCK_CLIENT_DEFAULTS, lazyConnect: true });
  }
  const { url, ...options } = input;
  const merged = { ...LOCK_CLIENT_DEFAULTS, lazyConnect: true, ...options, ...last };
  return url === undefined ? new Redis(merged) : new Redis(url, merged);
}

/**
 * The secrets a connection input carries, so that error text can be scrubbed of them even
 * when a server or library echoes them.
 */
export function secretsOf(input: RedisInput): string[] {
  const secrets: string[] = [];
  const fromUrl = (value: string): void => {
    try {
      const url = new URL(value);
      if (url.password) {
        secrets.push(decodeURIComponent(url.password), url.password);
      }
      // ioredis also takes `?password=` and `?sentinelPassword=` from the query string.
      secrets.push(...secretParamsOf(url));
    } catch {
      // Not a parsable URL: ioredis will reject it; nothing to scrub.
    }
  };
  const fromOptions = (options: Partial<RedisOptions> | undefined): void => {
    if (!options) {
      return;
    }
    for (const secret of [
      options.password,
      options.sentinelPassword,
      (options.tls as { passphrase?: unknown } | undefined)?.passphrase,
    ]) {
      if (typeof secret === 'string') {
        secrets.push(secret);
      }
    }
  };
  if (typeof input === 'string') {
    fromUrl(input);
  } else if (isRedisClient(input)) {
    fromOptions(connectionOptionsOf(input));
  } else {
    if (typeof input.url === 'string') {
      fromUrl(input.url);
    }
    fromOptions(input);
  }
  return secrets.filter((secret) => secret.length > 0);
}
