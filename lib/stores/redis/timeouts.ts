import type { Cluster, Redis } from 'ioredis';
import { MAX_DURATION_MS } from '../../utils/duration.js';
import { connectionOptionsOf, isClusterClient } from './redis-connection.js';
import { REDIS_CLIENT_TIMEOUT_INVALID, type RedisSettingSource } from './redis.messages.js';

/**
 * A `commandTimeout` the lock client and the store can keep: ioredis times out each command with
 * it, and the store bounds its wait for a connection and the commands' shared deadline timers by
 * it. Above 0: ioredis arms a timer of 0 ms, so every command would fail at once. At most
 * {@link MAX_DURATION_MS}: a longer timer fires after 1 ms, with the same result. A number:
 * ioredis arms none for anything else, `null` included, and a lost reply would then never fail.
 */
export function isCommandTimeout(value: unknown): boolean {
  return typeof value === 'number' && value > 0 && value <= MAX_DURATION_MS;
}

/**
 * A `connectTimeout` ioredis can arm for each connection attempt, or its "none": ioredis arms
 * it only when it is truthy, so 0 and `null` are none. A negative one or text makes Node throw as
 * the socket opens, a longer one overflows; NaN and `''` would be none too, but they are what an
 * unset variable gives, not a choice.
 */
export function isConnectTimeout(value: unknown): boolean {
  return value === null || (typeof value === 'number' && value >= 0 && value <= MAX_DURATION_MS);
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
