import { Cluster, Redis, type RedisOptions } from 'ioredis';

/**
 * Connection settings for a client the module creates. Each one closes a way a lock command
 * could run late, twice, or pile up while Redis is away:
 * - no offline queue: a tick while disconnected fails now (and is skipped) instead of queueing
 *   and acquiring minutes later, when the occurrence is long past;
 * - no automatic resend after a reconnect and no per-request retries: a command whose reply was
 *   lost is never replayed behind our back (a replayed acquire would take a lock nobody runs under);
 * - a command timeout: a lost reply surfaces as an error within a bounded time, after which the
 *   interceptor frees whatever that acquire may have taken;
 * - reconnect forever with a capped backoff: ticks resume by themselves when Redis returns.
 * Options the user passes win over these.
 */
export const LOCK_CLIENT_DEFAULTS: RedisOptions = {
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 2_000,
  connectTimeout: 5_000,
  retryStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2_000),
};

/** What the module was given to reach Redis. */
export type RedisInput = string | RedisOptions | Redis | Cluster;

export function isRedisClient(value: unknown): value is Redis | Cluster {
  return value instanceof Redis || value instanceof Cluster;
}

/** Creates a client with the lock defaults from a URL or options (never from a client). */
export function createLockClient(input: string | RedisOptions): Redis {
  if (typeof input === 'string') {
    return new Redis(input, { ...LOCK_CLIENT_DEFAULTS });
  }
  return new Redis({ ...LOCK_CLIENT_DEFAULTS, ...input });
}

/**
 * The secrets a connection input carries, so that error text can be scrubbed of them even
 * when a server or library echoes them.
 */
export function secretsOf(input: RedisInput): string[] {
  const secrets: string[] = [];
  if (typeof input === 'string') {
    try {
      const url = new URL(input);
      if (url.password) {
        secrets.push(decodeURIComponent(url.password), url.password);
      }
    } catch {
      // Not a parsable URL: ioredis will reject it; nothing to scrub.
    }
  } else if (!isRedisClient(input)) {
    if (typeof input.password === 'string') {
      secrets.push(input.password);
    }
  } else {
    const options = (input as Redis).options as RedisOptions | undefined;
    if (options && typeof options.password === 'string') {
      secrets.push(options.password);
    }
  }
  return secrets.filter((secret) => secret.length > 0);
}
