import type { Cluster, Redis } from 'ioredis';
import type { AcquireRequest, AcquireResult } from '../../interfaces/lock-store.interface.js';
import { numberOrNull } from './inspect.js';
import { defineScript, runScript } from './redis-script.js';

/**
 * Claims an occurrence and takes the lock in one step, so that no instance can see the lock
 * free between "is this occurrence done?" and "take it". Every answer also carries the time of
 * the job's last success (`ok_at`), so that each instance can tell "no success for N periods"
 * without another round trip.
 *
 * KEYS[1] lock (string: owner token, PX ttl) · KEYS[2] state (hash: tick, fence, holder, ok_at…)
 * ARGV: token, ttl ms, scheduledAt ms or '', state ttl ms, instance id
 * returns {1, fence, ok_at} · {0, 'tick-done' | 'held', ok_at} (ok_at '' when unknown)
 *
 * The fencing token is max(stored + 1, server clock in µs). Taking the clock every time, not only
 * when the hash is missing, keeps tokens increasing when Redis lost the hash (restart without
 * persistence) and also when it kept an older copy of it (a failover to a replica that missed the
 * last writes, an older AOF): a plain counter would then hand out a token the old master already
 * gave. It holds as long as the servers' clocks agree (NTP) and a job takes fewer than a million
 * locks a second.
 */
export const ACQUIRE_SCRIPT = defineScript(`
local tick = ARGV[3]
local state = redis.call('HMGET', KEYS[2], 'tick', 'ok_at', 'fence')
local okAt = state[2] or ''
if tick ~= '' and state[1] and tonumber(state[1]) >= tonumber(tick) then
  return {0, 'tick-done', okAt}
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0, 'held', okAt}
end
local now = redis.call('TIME')
local clock = now[1] * 1000000 + now[2]
local stored = tonumber(state[3])
-- Written as text by hand: tostring() would print 16 digits as 1.7955828460069e+15. Returned as a
-- number (an exact integer below 2^53, sent as an integer reply). The clock's text is built from
-- TIME's own digits: cheaper than string.format on the common path.
local fence, fenceText
if stored and stored >= clock then
  fence = stored + 1
  fenceText = string.format('%.0f', fence)
else
  fence = clock
  fenceText = now[1] .. string.sub('00000' .. now[2], -6)
end
if tick ~= '' then
  redis.call('HSET', KEYS[2], 'holder', ARGV[5], 'fence', fenceText, 'tick', tick)
else
  redis.call('HSET', KEYS[2], 'holder', ARGV[5], 'fence', fenceText)
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {1, fence, okAt}
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
  )) as [number, string | number, string];
  const lastSuccessAt = numberOrNull(reply[2]);
  if (Number(reply[0]) === 1) {
    return { acquired: true, fencingToken: Number(reply[1]), lastSuccessAt };
  }
  return {
    acquired: false,
    reason: reply[1] === 'tick-done' ? 'tick-done' : 'held',
    lastSuccessAt,
  };
}
