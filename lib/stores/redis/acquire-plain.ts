import type { Cluster, Redis } from 'ioredis';
import type { AcquireRequest, AcquireResult } from '../lock-store.interface.js';
import { defineScript, runScript } from './redis-script.js';

/**
 * Takes a plain lock ({@link AcquireRequest.plain}): `SET lock token NX PX ttl` and, when set, a
 * fencing token from the server's clock. No occurrence is claimed, no holder recorded and nothing
 * but the lock key written; jobs, and `run()` with `scheduledAt` or `record`, take
 * {@link ACQUIRE_SCRIPT} instead. Only a name also run the recording way has its state's `holder`
 * cleared: `inspect()` shows that field while the lock is held, and left as it was it would name
 * the instance of the last recorded run as holding this plain lock (PostgreSQL clears it too).
 *
 * KEYS[1] lock · KEYS[2] state (written only when its fence is ahead of the clock) · ARGV: token,
 * ttl ms
 * returns the fencing token (integer > 0) · 0 held
 *
 * The token is max(stored fence + 1, server clock in µs): the cron path's own rule on the same
 * clock, so tokens of a name taken both ways only grow. The stored fence is read because it can
 * run ahead of the clock (the clock stepped back, or a failover to a server whose clock is
 * behind). Then the token handed out is stored in its place, or the next plain lock would get the
 * same one; otherwise nothing is written, and a plain token after a plain one rests on the clock
 * alone. That holds: a plain lock is taken again only after the previous one was released, which
 * its holder sends once the acquire's reply reached it (a round trip later), or after it expired
 * (a millisecond at least), while the clock advances by the microsecond. Lost data (a restart without
 * persistence) is covered the same way. Like the cron path, it needs the servers' clocks to agree
 * (NTP) and not to step back by more than that gap.
 */
export const ACQUIRE_PLAIN_SCRIPT = defineScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
local now = redis.call('TIME')
local clock = now[1] * 1000000 + now[2]
local state = redis.call('HMGET', KEYS[2], 'fence', 'holder')
if state[2] then
  redis.call('HDEL', KEYS[2], 'holder')
end
local stored = tonumber(state[1])
if stored and stored >= clock then
  redis.call('HSET', KEYS[2], 'fence', string.format('%.0f', stored + 1))
  return stored + 1
end
return clock
`);

/**
 * Sends {@link ACQUIRE_PLAIN_SCRIPT}; `keys` is `[lock, state]`. An integer reply (a Lua number
 * below 2^53 is sent exactly): nothing to split or parse but the number.
 */
export function acquirePlainLock(
  client: Redis | Cluster,
  keys: readonly [string, string],
  request: AcquireRequest,
  fail: (error: unknown) => never,
): Promise<AcquireResult> {
  return runScript(
    client,
    ACQUIRE_PLAIN_SCRIPT,
    keys,
    [request.token, request.ttl],
    readPlainReply,
    fail,
  );
}

// Number(): a client made with `stringNumbers` answers integers as strings.
function readPlainReply(reply: unknown): AcquireResult {
  const fence = Number(reply);
  return fence > 0 ? { acquired: true, fencingToken: fence } : { acquired: false, reason: 'held' };
}
