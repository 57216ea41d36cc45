import type { Cluster, Redis } from 'ioredis';
import type { AcquireRequest, AcquireResult } from '../../interfaces/lock-store.interface.js';
import { defineScript, runScript } from './redis-script.js';

/**
 * Claims an occurrence and takes the lock in one step, so that no instance can see the lock
 * free between "is this occurrence done?" and "take it".
 *
 * KEYS[1] lock (string: owner token, PX ttl) · KEYS[2] state (hash: tick, fence, holder)
 * ARGV: token, ttl ms, scheduledAt ms or '', state ttl ms, instance id
 *
 * The fencing token is HINCRBY on the state hash; when the hash is missing (first run, expired,
 * or Redis lost its data) it is seeded from the server clock in microseconds, which is above
 * every token handed out before as long as fewer than a million runs a second were taken.
 */
export const ACQUIRE_SCRIPT = defineScript(`
local tick = ARGV[3]
if tick ~= '' then
  local last = redis.call('HGET', KEYS[2], 'tick')
  if last and tonumber(last) >= tonumber(tick) then
    return {0, 'tick-done'}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, 'held'}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local fence
if redis.call('HEXISTS', KEYS[2], 'fence') == 1 then
  -- Returned as a number: tostring() would print 16 digits as 1.7955828460069e+15.
  fence = redis.call('HINCRBY', KEYS[2], 'fence', 1)
else
  local now = redis.call('TIME')
  fence = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('HSET', KEYS[2], 'fence', fence)
end
if tick ~= '' then
  redis.call('HSET', KEYS[2], 'tick', tick)
end
redis.call('HSET', KEYS[2], 'holder', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {1, fence}
`);

export async function acquireLock(
  client: Redis | Cluster,
  keys: { lock: string; state: string },
  request: AcquireRequest,
  stateTtl: number,
): Promise<AcquireResult> {
  const reply = (await runScript(
    client,
    ACQUIRE_SCRIPT,
    [keys.lock, keys.state],
    [request.token, request.ttl, request.scheduledAt ?? '', stateTtl, request.instanceId],
  )) as [number, string];
  if (Number(reply[0]) === 1) {
    return { acquired: true, fencingToken: Number(reply[1]) };
  }
  return { acquired: false, reason: reply[1] === 'tick-done' ? 'tick-done' : 'held' };
}
