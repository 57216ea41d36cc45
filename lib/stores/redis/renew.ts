import type { Cluster, Redis } from 'ioredis';
import type { RenewRequest, RenewResult } from '../lock-store.interface.js';
import { defineScript, runScript } from './redis-script.js';

/**
 * Extends the lock only if the caller still owns it: a plain PEXPIRE would revive a lock that
 * expired and was taken by another instance.
 *
 * KEYS[1] lock · ARGV: token, ttl ms · returns 1 renewed, 0 gone, -1 owned by someone else
 */
export const RENEW_SCRIPT = defineScript(`
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if owner then
  return -1
end
return 0
`);

/** Sends {@link RENEW_SCRIPT}. Not `async` (see runScript). */
export function renewLock(
  client: Redis | Cluster,
  lockKey: string,
  request: RenewRequest,
  fail: (error: unknown) => never,
): Promise<RenewResult> {
  return runScript(
    client,
    RENEW_SCRIPT,
    [lockKey],
    [request.token, request.ttl],
    readRenewReply,
    fail,
  );
}

function readRenewReply(reply: unknown): RenewResult {
  const code = Number(reply);
  if (code === 1) {
    return { renewed: true };
  }
  return { renewed: false, reason: code === -1 ? 'taken' : 'expired' };
}
