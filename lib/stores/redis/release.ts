import type { Cluster, Redis } from 'ioredis';
import type { ReleaseRequest } from '../lock-store.interface.js';
import { defineScript, runScript } from './redis-script.js';
import { releaseEntryTexts, runEntryText } from '../history-entries.js';

/**
 * Records how the run ended, then deletes the lock only if the caller still owns it (a late
 * release must never free another instance's lock), or, for `minHold`, shortens it to the time
 * left. The occurrence marker is left alone so a late instance cannot re-run this occurrence.
 *
 * The outcome is recorded even when the lock is no longer ours: a run whose lock was lost still
 * happened, and "no success for N periods" must count its failure (or its success). A success
 * only moves `ok_at` forward, so a late report from a slow instance (or a slower clock) cannot make
 * the last success look older than it is; a report from a clock ahead of the server's is recorded
 * at the server's time, so it cannot put the last success in the future either.
 *
 * The expiry is checked only when the outcome added fields to the hash: either the hash had
 * expired and was just re-created (it has no expiry then), or this is the job's first recorded
 * outcome (the acquire's expiry is kept). Otherwise the hash keeps what the acquire set.
 *
 * The job's history entries (the run, and the occurrences it found missed, oldest first) are
 * pushed in the same step and the list trimmed to the history size. The list expires with the
 * state: the acquire rewrites both expiries together, and a list created here takes the time the
 * state has left (a long marker ttl keeps the state, and so the history, past the default state
 * ttl). The common release sends neither `PTTL` nor `PEXPIRE` for it. A release that reports an
 * outcome with the history off (size 0, not '') deletes the list instead: turned off, it keeps none.
 *
 * KEYS[1] lock · KEYS[2] state · KEYS[3] history
 * ARGV: token, keep ms (0 = delete), outcome ('' | 'completed' | 'failed'), duration ms,
 *       finished at ms, state ttl ms, '1' to read the queued occurrence, history size ('' when
 *       the request has none), history entries (JSON, oldest first)…
 * returns 1 released · 0 not ours, as an integer, or as the text '1 queued' · '0 queued' when an
 * occurrence is queued behind the lock: an integer is the reply a client reads at least cost.
 */
export const RELEASE_SCRIPT = defineScript(`
local ours = redis.call('GET', KEYS[1]) == ARGV[1]
local outcome = ARGV[3]
if outcome ~= '' then
  -- A report from a clock ahead of the server's is recorded at the server's time: an ok_at in
  -- the future would keep "no success for N periods" quiet until that time comes.
  local endAt = ARGV[5]
  local finished = tonumber(endAt)
  local now = redis.call('TIME')
  local nowMs = now[1] * 1000 + math.floor(now[2] / 1000)
  if not finished or not (finished <= nowMs) then
    finished = nowMs
    endAt = string.format('%.0f', nowMs)
  end
  local added
  if outcome == 'failed' then
    redis.call('HINCRBY', KEYS[2], 'fails', 1)
    added = redis.call('HSET', KEYS[2], 'outcome', outcome, 'end_at', endAt)
  else
    local okAt = redis.call('HGET', KEYS[2], 'ok_at')
    if okAt and tonumber(okAt) > finished then
      added = redis.call('HSET', KEYS[2], 'fails', 0, 'outcome', outcome, 'end_at', endAt)
    else
      added = redis.call('HSET', KEYS[2], 'ok_at', endAt, 'ok_ms', ARGV[4], 'fails', 0, 'outcome', outcome, 'end_at', endAt)
    end
  end
  -- A hash re-created here has no expiry (HINCRBY creates it before the HSET, which then adds
  -- outcome and end_at): give it one. A hash the acquire wrote keeps its own, maybe a long marker ttl.
  if added > 0 and redis.call('PTTL', KEYS[2]) < 0 then
    redis.call('PEXPIRE', KEYS[2], ARGV[6])
  end
end
local size = tonumber(ARGV[8])
if #ARGV > 8 and size and size > 0 then
  local length = redis.call('LPUSH', KEYS[3], unpack(ARGV, 9))
  if length > size then
    redis.call('LTRIM', KEYS[3], 0, size - 1)
  end
  -- The list expires with the state, whose expiry the acquire rewrites with the list's: only a
  -- list this push created needs one, the time the state has left.
  if length == #ARGV - 8 then
    local left = redis.call('PTTL', KEYS[2])
    if left > 0 then
      redis.call('PEXPIRE', KEYS[3], left)
    else
      redis.call('PEXPIRE', KEYS[3], ARGV[6])
    end
  end
elseif outcome ~= '' and size and size <= 0 then
  -- The history is off: the entries recorded while it was on go, or they would show as the
  -- newest for good (the acquire keeps the list alive with the state). A release without an
  -- outcome (the CLI's, the dashboard's) or a size ('') says nothing of the size: left alone.
  redis.call('DEL', KEYS[3])
end
-- A queued occurrence (overlap queue/replace) is live while later than the last claimed one.
local queued = ''
if ARGV[7] == '1' then
  local st = redis.call('HMGET', KEYS[2], 'queued', 'tick')
  if tonumber(st[1]) and tonumber(st[1]) > (tonumber(st[2]) or -1) then
    queued = st[1]
  end
end
local released = 0
if ours then
  released = 1
  if tonumber(ARGV[2]) > 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  else
    redis.call('DEL', KEYS[1])
  end
end
if queued == '' then
  return released
end
return released .. ' ' .. queued
`);

/**
 * Sends {@link RELEASE_SCRIPT}; resolves `true` when the lock was ours. Not `async` (see
 * runScript). `keys` is `[lock, state, history]`.
 */
export function releaseLock(
  client: Redis | Cluster,
  keys: readonly [string, string, string],
  request: ReleaseRequest,
  stateTtl: number,
  fail: (error: unknown) => never,
): Promise<boolean> {
  const keep = request.keepFor ? Math.max(0, Math.round(request.keepFor)) : 0;
  const outcome = request.outcome;
  const onQueued = request.onQueued;
  const size = request.historySize;
  const history = size !== undefined && size > 0;
  const flag = onQueued ? '1' : '0';
  // One list of the final length, not one grown push by push: this runs on every release. The
  // common release (history on, nothing missed) has one entry, written in the list itself.
  let args: Array<string | number>;
  if (outcome) {
    const status = outcome.status === 'failed' ? 'failed' : 'completed';
    const duration = Math.max(0, Math.round(outcome.durationMs));
    const finishedAt = Math.round(outcome.finishedAt);
    const run = outcome.run;
    const entry = history && run && !request.missed?.length ? runEntryText(outcome, run) : '';
    args =
      entry === ''
        ? [request.token, keep, status, duration, finishedAt, stateTtl, flag, size ?? '']
        : [request.token, keep, status, duration, finishedAt, stateTtl, flag, size ?? '', entry];
    if (history && entry === '') {
      const entries = releaseEntryTexts(outcome, request.missed);
      for (let i = 0; i < entries.length; i++) {
        args.push(entries[i]);
      }
    }
  } else {
    args = [request.token, keep, '', 0, 0, stateTtl, flag, size ?? ''];
  }
  return runScript(
    client,
    RELEASE_SCRIPT,
    keys,
    args,
    (reply: unknown): boolean => {
      // String(): a client made with `stringNumbers` answers integers as strings anyway.
      const text = String(reply);
      const space = text.indexOf(' ');
      if (space < 0) {
        return text === '1';
      }
      if (onQueued) {
        onQueued(Number(text.slice(space + 1)));
      }
      return text.slice(0, space) === '1';
    },
    fail,
  );
}
