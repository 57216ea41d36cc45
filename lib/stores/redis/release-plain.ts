import type { Cluster, Redis } from 'ioredis';
import { defineScript, runScript } from './redis-script.js';

/**
 * Deletes a plain lock only if the caller still owns it: the smallest correct release (a late
 * release must never free another instance's lock). Records nothing, and never touches the
 * job's state (its occurrence marker and fencing token stay).
 *
 * KEYS[1] lock · ARGV: token · returns 1 released, 0 not ours
 */
export const RELEASE_PLAIN_SCRIPT = defineScript(
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
);

/** Sends {@link RELEASE_PLAIN_SCRIPT}; resolves `true` when the lock was ours. */
export function releasePlainLock(
  client: Redis | Cluster,
  lockKey: string,
  token: string,
  fail: (error: unknown) => never,
): Promise<boolean> {
  return runScript(client, RELEASE_PLAIN_SCRIPT, [lockKey], [token], isOne, fail);
}

// Number(): a client made with `stringNumbers` answers integers as strings.
const isOne = (reply: unknown): boolean => Number(reply) === 1;
