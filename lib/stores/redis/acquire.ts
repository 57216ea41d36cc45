import type { Cluster, Redis } from 'ioredis';
import type { AcquireRequest, AcquireResult } from '../lock-store.interface.js';
import { MAX_SCHEDULED_AT_AHEAD_MS } from '../../cron-lock.constants.js';
import { readAcquireReply } from './acquire-reply.js';
import { defineScript, runScript } from './redis-script.js';

/**
 * Claims an occurrence and takes the lock in one step, so that no instance can see the lock
 * free between "is this occurrence done?" and "take it". Every answer also carries the time of
 * the job's last success (`ok_at`), so that each instance can tell "no success for N periods"
 * without another round trip.
 *
 * KEYS[1] lock (string: owner token, PX ttl) · KEYS[2] state (hash: tick, fence, holder, ok_at,
 * exp_at, paused, p_until, queued, merged…) · KEYS[3] history (list, newest first)
 * ARGV: token, ttl ms, scheduledAt ms or '', state ttl ms, instance id, history size, force ('1'),
 * overlap ('' | 'queue' | 'replace')
 * returns one text of fields separated by single spaces (empty fields kept):
 * '1 fence ok_at previous-tick' · '0 tick-done|held|merged|paused ok_at[  1 when paused]' ·
 * '0 queued ok_at  lock-pttl' · '0 merged ok_at  queued-occurrence-to-claim' (the lock was free) ·
 * '0 merged ok_at  queued-occurrence lock-pttl' (held: retried when the lock would expire) ·
 * '0 merged-paused ok_at' (merged into a run claimed since, the job paused) ·
 * '0 invalid|ahead ok_at scheduledAt': refused, nothing written (ok_at and previous-tick empty when
 * unknown).
 * One text, not a Lua table: the client decodes an array reply element by element, each string
 * through a buffer of its own, where a text is one buffer and one split.
 *
 * Under overlap queue/replace (state fields `queued`, `merged`, `repl`): an occurrence that finds
 * the lock held becomes the job's queued occurrence unless another one is queued already, then it
 * is `merged` (recorded in `merged`, so that the claim after it does not count it as missed, and
 * in the history by the acquisition that first merges it, trimmed to the history size). A
 * queued occurrence is live while later than `tick`: its claim ends it without another write.
 * A later occurrence never takes the lock while an earlier one is queued, even a free lock (its
 * holder released it and is about to claim the queued one, or its lock expired): it merges, and
 * the caller is handed the queued one to claim. An occurrence no later than the last one merged,
 * asked for once the queued one was claimed (an instance whose tick came late), answers `merged`:
 * the queued one's run stands for it. A paused occurrence's claim that passes a live queued one
 * records that one as `paused` too: it will not run.
 * `replace` records the holder's token in `repl`, which the renew script answers.
 *
 * A tick is refused unless it is plain digits (ms since epoch) and at most
 * MAX_SCHEDULED_AT_AHEAD_MS ahead of the server's `TIME`: claimed, a tick far in the future (a
 * wrong clock, µs passed as ms, `inf`) would mark every occurrence before it as done. The server
 * clock is the one reference every instance shares.
 *
 * The state hash is left with at least half the state ttl after every acquisition, and its expiry
 * is only rewritten when less than that would remain: `exp_at` (server ms) records when the hash
 * expires, so the common acquisition skips `PEXPIRE`. The caller passes a state ttl of at least
 * twice the marker ttl, so the occurrence marker still outlives its marker ttl. The history list
 * expires with the state: its expiry is rewritten with the state's (a list the release creates
 * takes the state's time left, see RELEASE_SCRIPT), so a job that runs less often than the
 * default state ttl keeps its history between runs.
 *
 * A paused job (`paused` set, `p_until` empty or still ahead of the server clock) is refused
 * unless forced, read with the fields the script reads anyway: no extra round trip. The first
 * acquisition of an occurrence while paused claims it (the others answer `tick-done`: one skip
 * logged fleet-wide), records it in the history, and keeps the state hash alive so that the pause
 * lasts as long as the job keeps being scheduled. A lock held now is left alone.
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
-- Records occurrence 'at' (default: 'tick') as a 'paused' or 'merged' history entry (the JSON
-- occurrenceEntry writes), trimmed to the history size and kept as long as the state. nowMs:
-- server ms, read here when not given (only when the history is on).
local function recordOccurrence(kind, nowMs, at)
  local size = tonumber(ARGV[6])
  if size and size > 0 then
    if not nowMs then
      local now = redis.call('TIME')
      nowMs = now[1] * 1000 + math.floor(now[2] / 1000)
    end
    redis.call('LPUSH', KEYS[3], '{"kind":"' .. kind .. '","scheduledAt":' .. (at or tick) .. ',"finishedAt":' .. string.format('%.0f', nowMs) .. ',"instanceId":' .. cjson.encode(ARGV[5]) .. '}')
    redis.call('LTRIM', KEYS[3], 0, size - 1)
    redis.call('PEXPIRE', KEYS[3], ARGV[4])
  end
end
local state = redis.call('HMGET', KEYS[2], 'tick', 'ok_at', 'fence', 'exp_at', 'paused', 'p_until', 'queued', 'merged')
local okAt = state[2] or ''
local now
local claim, lastTick
-- The occurrence claimed before this one, or the latest one merged into a queued run if later.
local prev = ''
if tick ~= '' then
  -- tonumber() also reads 'inf', 'nan', '0x1f' and '1e300': only plain digits name an occurrence.
  if not string.match(tick, '^%d+$') then
    return '0 invalid ' .. okAt .. ' ' .. tick
  end
  now = redis.call('TIME')
  local nowMs = now[1] * 1000 + math.floor(now[2] / 1000)
  local latest = nowMs + ${MAX_SCHEDULED_AT_AHEAD_MS}
  claim = tonumber(tick)
  if claim > latest then
    return '0 ahead ' .. okAt .. ' ' .. tick
  end
  -- A marker beyond the bound was written before ticks were bounded (a wrong clock or unit):
  -- honouring it would turn away every occurrence until the state expires.
  lastTick = tonumber(state[1])
  if lastTick and lastTick >= claim and lastTick <= latest then
    -- Whether the job is paused, so that an instance turned away here does not count the
    -- occurrence as missed (the alert).
    local untilMs = tonumber(state[6])
    if state[5] and (not untilMs or untilMs > nowMs) then
      return '0 tick-done ' .. okAt .. '  1'
    end
    return '0 tick-done ' .. okAt
  end
  if lastTick and lastTick < claim then
    prev = state[1]
  end
  local merged = tonumber(state[8])
  if merged and merged < claim and (prev == '' or merged > lastTick) then
    prev = state[8]
  end
  -- Merged into a queued occurrence that has been claimed since (none is queued now): that run
  -- stands for this one, which must not run after it on an instance whose tick came late. Whether
  -- the job is paused, as with tick-done.
  if merged and merged >= claim and ARGV[8] ~= '' then
    local queuedAt = tonumber(state[7])
    if not (queuedAt and (not lastTick or queuedAt > lastTick)) then
      local untilMs = tonumber(state[6])
      if state[5] and (not untilMs or untilMs > nowMs) then
        return '0 merged-paused ' .. okAt
      end
      return '0 merged ' .. okAt
    end
  end
end
if state[5] and ARGV[7] ~= '1' then
  now = now or redis.call('TIME')
  local nowMs = now[1] * 1000 + math.floor(now[2] / 1000)
  local untilMs = tonumber(state[6])
  if not untilMs or untilMs > nowMs then
    if tick ~= '' then
      local stateTtl = tonumber(ARGV[4])
      local expAt = tonumber(state[4])
      if expAt and expAt - nowMs >= stateTtl / 2 then
        redis.call('HSET', KEYS[2], 'tick', tick)
      else
        redis.call('HSET', KEYS[2], 'tick', tick, 'exp_at', string.format('%.0f', nowMs + stateTtl))
        redis.call('PEXPIRE', KEYS[2], ARGV[4])
        redis.call('PEXPIRE', KEYS[3], ARGV[4])
      end
      -- An occurrence queued behind the holder that this claim passes will not run: recorded as
      -- skipped while paused, as this one is, before it (the history is newest first).
      local queuedAt = tonumber(state[7])
      if queuedAt and queuedAt < claim and (not lastTick or queuedAt > lastTick) then
        recordOccurrence('paused', nowMs, state[7])
      end
      recordOccurrence('paused', nowMs)
    end
    return '0 paused ' .. okAt .. '  1'
  end
end
-- overlap queue/replace: one occurrence waits for the holder; a queued one that ran is dead.
local queued, merge
if tick ~= '' and ARGV[8] ~= '' then
  queued = tonumber(state[7])
  if queued and lastTick and queued <= lastTick then
    queued = nil
  end
  -- Merged into the queued occurrence. Recorded by the acquisition that moves 'merged' forward:
  -- the others asking for the same occurrence find it recorded already (one entry fleet-wide).
  merge = function()
    local merged = tonumber(state[8])
    if not merged or merged < claim then
      redis.call('HSET', KEYS[2], 'merged', tick)
      recordOccurrence('merged', now and (now[1] * 1000 + math.floor(now[2] / 1000)))
    end
  end
end
-- An earlier queued occurrence goes first, the lock held or not: free, its holder released it and
-- is about to claim the queued one, or its lock expired (killed). Taken here, the marker would
-- pass the queued one and lose it; this one merges, and the caller claims the queued one.
if queued and queued < claim then
  merge()
  -- PTTL -2: no lock key (PTTL, not EXISTS: the least-privilege ACL rule already allows it).
  local left = redis.call('PTTL', KEYS[1])
  if left == -2 then
    return '0 merged ' .. okAt .. '  ' .. state[7]
  end
  -- Held: the queued one and the lock's time left, for a retry in case the holder never hands
  -- it over (killed, or closing, after queueing it behind its own run).
  return '0 merged ' .. okAt .. '  ' .. state[7] .. ' ' .. left
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if tick == '' or ARGV[8] == '' then
    return '0 held ' .. okAt
  end
  if queued and queued ~= claim then
    merge()
    return '0 merged ' .. okAt .. '  ' .. state[7] .. ' ' .. redis.call('PTTL', KEYS[1])
  end
  if ARGV[8] == 'replace' then
    redis.call('HSET', KEYS[2], 'queued', tick, 'repl', redis.call('GET', KEYS[1]))
  else
    redis.call('HSET', KEYS[2], 'queued', tick)
  end
  if redis.call('PTTL', KEYS[2]) < 0 then
    redis.call('PEXPIRE', KEYS[2], ARGV[4])
  end
  return '0 queued ' .. okAt .. '  ' .. redis.call('PTTL', KEYS[1])
end
now = now or redis.call('TIME')
local clock = now[1] * 1000000 + now[2]
local stored = tonumber(state[3])
-- Written as text by hand: tostring() would print 16 digits as 1.7955828460069e+15 (an exact
-- integer below 2^53 all the same). The clock's text is built from TIME's own digits: cheaper
-- than string.format on the common path.
local fenceText
if stored and stored >= clock then
  fenceText = string.format('%.0f', stored + 1)
else
  fenceText = now[1] .. string.sub('00000' .. now[2], -6)
end
-- The expiry is rewritten only when less than half of this call's state ttl is left (so a longer
-- marker ttl takes effect at once), or when exp_at is missing: a hash written before exp_at
-- existed, or re-created by a release (which gave it an expiry but no exp_at). exp_at is server
-- ms, 13 digits: %.0f prints it exactly.
local stateTtl = tonumber(ARGV[4])
local nowMs = now[1] * 1000 + math.floor(now[2] / 1000)
local expAt = tonumber(state[4])
if expAt and expAt - nowMs >= stateTtl / 2 then
  if tick ~= '' then
    redis.call('HSET', KEYS[2], 'holder', ARGV[5], 'fence', fenceText, 'tick', tick)
  else
    redis.call('HSET', KEYS[2], 'holder', ARGV[5], 'fence', fenceText)
  end
  return '1 ' .. fenceText .. ' ' .. okAt .. ' ' .. prev
end
local expText = string.format('%.0f', nowMs + stateTtl)
if tick ~= '' then
  redis.call('HSET', KEYS[2], 'holder', ARGV[5], 'fence', fenceText, 'tick', tick, 'exp_at', expText)
else
  redis.call('HSET', KEYS[2], 'holder', ARGV[5], 'fence', fenceText, 'exp_at', expText)
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return '1 ' .. fenceText .. ' ' .. okAt .. ' ' .. prev
`);

/**
 * Sends {@link ACQUIRE_SCRIPT}. Not `async`: the reply is read in the one `then` of the command
 * (see runScript). `keys` is `[lock, state, history]`.
 */
export function acquireLock(
  client: Redis | Cluster,
  keys: readonly [string, string, string],
  request: AcquireRequest,
  stateTtl: number,
  fail: (error: unknown) => never,
): Promise<AcquireResult> {
  const onQueued = request.onQueued;
  return runScript(
    client,
    ACQUIRE_SCRIPT,
    keys,
    [
      request.token,
      request.ttl,
      request.scheduledAt ?? '',
      stateTtl,
      request.instanceId,
      request.historySize ?? 0,
      request.force ? '1' : '',
      request.overlap === 'queue' || request.overlap === 'replace' ? request.overlap : '',
    ],
    // A closure only for a job with an overlap policy: the common path reads the reply as is.
    onQueued ? (reply) => readAcquireReply(reply, onQueued) : readAcquireReply,
    fail,
  );
}
