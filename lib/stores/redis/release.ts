import type { Cluster, Redis } from 'ioredis';
import type { ReleaseRequest } from '../../interfaces/lock-store.interface.js';
import { defineScript, runScript } from './redis-script.js';

/**
 * Records how the run ended, then deletes the lock only if the caller still owns it (a late
 * release must never free another instance's lock), or, for `minHold`, shortens it to the time
 * left. The occurrence marker is left alone so a late instance cannot re-run this occurrence.
 *
 * The outcome is recorded even when the lock is no longer ours: a run whose lock was lost still
 * happened, and "no success for N periods" must count its failure (or its success). A success
 * only moves `ok_at` forward, so a late report from a slow instance cannot make the last
 * success look older than it is.
 *
 * KEYS[1] lock · KEYS[2] state
 * ARGV: token, keep ms (0 = delete), outcome ('' | 'completed' | 'failed'), duration ms,
 *       finished at ms, state ttl ms
 * returns 1 released, 0 not ours
 */
export const RELEASE_SCRIPT = defineScript(`
local outcome = ARGV[3]
if outcome ~= '' then
  if outcome == 'failed' then
    redis.call('HINCRBY', KEYS[2], 'fails', 1)
    redis.call('HSET', KEYS[2], 'outcome', outcome, 'end_at', ARGV[5])
  else
    local okAt = redis.call('HGET', KEYS[2], 'ok_at')
    if okAt and tonumber(okAt) > tonumber(ARGV[5]) then
      redis.call('HSET', KEYS[2], 'fails', 0, 'outcome', outcome, 'end_at', ARGV[5])
    else
      redis.call('HSET', KEYS[2], 'ok_at', ARGV[5], 'ok_ms', ARGV[4], 'fails', 0, 'outcome', outcome, 'end_at', ARGV[5])
    end
  end
  -- Keeps the expiry the acquire set (it may be a long marker ttl); gives one to a hash that had
  -- expired and was just re-created, which has none.
  if redis.call('PTTL', KEYS[2]) < 0 then
    redis.call('PEXPIRE', KEYS[2], ARGV[6])
  end
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
`);

export async function releaseLock(
  client: Redis | Cluster,
  keys: { lock: string; state: string },
  request: ReleaseRequest,
  stateTtl: number,
): Promise<boolean> {
  const keep = Math.max(0, Math.round(request.keepFor ?? 0));
  const outcome = request.outcome;
  const args = outcome
    ? [
        outcome.status === 'failed' ? 'failed' : 'completed',
        Math.max(0, Math.round(outcome.durationMs)),
        Math.round(outcome.finishedAt),
        stateTtl,
      ]
    : ['', 0, 0, stateTtl];
  const reply = await runScript(
    client,
    RELEASE_SCRIPT,
    [keys.lock, keys.state],
    [request.token, keep, ...args],
  );
  return Number(reply) === 1;
}
