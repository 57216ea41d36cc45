import type { Cluster, Redis } from 'ioredis';
import type { RenewRequest, RenewResult } from '../lock-store.interface.js';
import { defineScript, runScript } from './redis-script.js';

/**
 * Extends the lock only if the caller still owns it: a plain PEXPIRE would revive a lock that
 * expired and was taken by another instance.
 *
 * Also tells the holder that a later occurrence under `overlap: 'replace'` asked it to stop: the
 * state's `repl` names its token while that occurrence is queued (later than `tick`). The lock is
 * extended all the same: the new run waits for this one to release it.
 *
 * KEYS[1] lock · KEYS[2] state · ARGV: token, ttl ms
 * returns 1 renewed, 2 renewed and replaced, 0 gone, -1 owned by someone else
 */
export const RENEW_SCRIPT = defineScript(`
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local state = redis.call('HMGET', KEYS[2], 'repl', 'queued', 'tick')
  if state[1] == ARGV[1] and tonumber(state[2]) and tonumber(state[2]) > (tonumber(state[3]) or -1) then
    return 2
  end
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
  keys: readonly [string, string],
  request: RenewRequest,
  fail: (error: unknown) => never,
): Promise<RenewResult> {
  return runScript(client, RENEW_SCRIPT, keys, [request.token, request.ttl], readRenewReply, fail);
}

function readRenewReply(reply: unknown): RenewResult {
  const code = Number(reply);
  if (code === 1) {
    return { renewed: true };
  }
  if (code === 2) {
    return { renewed: true, replaced: true };
  }
  return { renewed: false, reason: code === -1 ? 'taken' : 'expired' };
}
