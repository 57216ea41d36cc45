import type { Cluster, Redis } from 'ioredis';
import { MAX_DURATION_MS } from '../../utils/duration.js';
import { connectionOptionsOf, isClusterClient } from './redis-connection.js';
import {
  REDIS_CLIENT_TIMEOUT_INVALID,
  REDIS_TIMEOUT_INVALID,
  type RedisSettingSource,
} from './redis.messages.js';

/**
 * A `commandTimeout` the lock client and the store can keep: ioredis times out each command with
 * it, and the store bounds its wait for a connection and the commands' shared deadline timers by
 * it. Above 0: ioredis arms a timer of 0 ms, so every command would fail at once. At most
 * {@link MAX_DURATION_MS}: a longer timer fires after 1 ms, with the same result.
 */
function isCommandTimeout(value: unknown): boolean {
  return typeof value === 'number' && value > 0 && value <= MAX_DURATION_MS;
}

/**
 * A `connectTimeout` ioredis can arm for each connection attempt: 0 is its "none"; a negative,
 * infinite or non-number one makes Node throw as the socket opens, a longer one overflows.
 */
function isConnectTimeout(value: unknown): boolean {
  return typeof value === 'number' && value >= 0 && value <= MAX_DURATION_MS;
}

const TIMEOUT_CHECKS = [
  ['commandTimeout', isCommandTimeout],
  ['connectTimeout', isConnectTimeout],
] as const;

/**
 * Why the ioredis options a client is created from carry a timeout no timer can keep, or
 * `undefined`. Only keys present are read (`undefined` present is refused before, as a lock
 * default left empty); absent ones take `LOCK_CLIENT_DEFAULTS`.
 */
export function timeoutSettingProblem(
  options: object,
  source: RedisSettingSource,
): string | undefined {
  for (const [key, fits] of TIMEOUT_CHECKS) {
    const value: unknown = (options as Record<string, unknown>)[key];
    if (key in options && !fits(value)) {
      return REDIS_TIMEOUT_INVALID(source, key, value);
    }
  }
  return undefined;
}

/**
 * Why a client passed in has a `commandTimeout` (a `Cluster`'s in `redisOptions`) that the store
 * cannot keep its own timers by, or `undefined`. None at all is the client's choice: ioredis then
 * times out nothing, and the store bounds its waits by the lock default.
 */
export function clientTimeoutProblem(
  client: Redis | Cluster,
  source: RedisSettingSource,
): string | undefined {
  const value: unknown = connectionOptionsOf(client)?.commandTimeout;
  if (value === undefined || value === null || isCommandTimeout(value)) {
    return undefined;
  }
  const where = isClusterClient(client) ? 'redisOptions.commandTimeout' : 'commandTimeout';
  return REDIS_CLIENT_TIMEOUT_INVALID(source, where, value);
}
