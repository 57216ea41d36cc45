import type { Cluster, Redis } from 'ioredis';
import type { StoredLockState } from '../lock-store.interface.js';
import { defineScript, runScript } from './redis-script.js';
import { nextOccurrence } from '../../utils/next-occurrence.js';

/**
 * Reads the lock's remaining life and the job's state at one instant, with the server's clock
 * (ms) to tell whether a pause has ended (`p_until`, server ms).
 * KEYS[1] lock · KEYS[2] state
 * returns {pttl, holder, tick, fence, ok_at, ok_ms, fails, outcome, end_at, paused, p_reason,
 * p_until, cron, tz, now} ('' when missing)
 */
export const INSPECT_SCRIPT = defineScript(`
local state = redis.call('HMGET', KEYS[2], 'holder', 'tick', 'fence', 'ok_at', 'ok_ms', 'fails', 'outcome', 'end_at', 'paused', 'p_reason', 'p_until', 'cron', 'tz')
local reply = {redis.call('PTTL', KEYS[1])}
for i = 1, 13 do
  reply[i + 1] = state[i] or ''
end
local now = redis.call('TIME')
reply[15] = string.format('%.0f', now[1] * 1000 + math.floor(now[2] / 1000))
return reply
`);

type InspectReply = [number, ...string[]];

export async function inspectLock(
  client: Redis | Cluster,
  name: string,
  keys: { lock: string; state: string },
): Promise<StoredLockState> {
  const reply = (await runScript(
    client,
    INSPECT_SCRIPT,
    [keys.lock, keys.state],
    [],
  )) as InspectReply;
  const [pttl, holder, tick, fence, okAt, okMs, fails, outcome, endAt] = reply;
  const [paused, pauseReason, pausedUntil, cron, timeZone, now] = reply.slice(9) as string[];
  const until = numberOrNull(pausedUntil);
  const inForce = paused !== '' && (until === null || until > Number(now));
  // PTTL is 0 during the last millisecond of a lock that still exists (and can still be renewed
  // or released): report it as held, not free. -2 is a missing key; -1 never happens for a lock.
  const held = Number(pttl) >= 0;
  return {
    name,
    holder: held && holder !== '' ? holder : null,
    ttlLeft: held ? Number(pttl) : null,
    lastTick: numberOrNull(tick),
    fencingToken: numberOrNull(fence),
    lastSuccessAt: numberOrNull(okAt),
    lastDurationMs: numberOrNull(okMs),
    consecutiveFailures: numberOrNull(fails) ?? 0,
    lastOutcome: outcome === 'completed' || outcome === 'failed' ? outcome : null,
    lastFinishedAt: numberOrNull(endAt),
    paused: inForce,
    pauseReason: inForce && pauseReason !== '' ? pauseReason! : null,
    pausedUntil: inForce ? until : null,
    cron: cron || null,
    timeZone: timeZone || null,
    nextAt: nextOccurrence(cron, timeZone),
  };
}

/** A hash field as a number; `null` when missing ('' from the scripts) or not numeric. */
export function numberOrNull(field: string | number | null | undefined): number | null {
  if (field === '' || field === null || field === undefined) {
    return null;
  }
  const value = Number(field);
  return Number.isFinite(value) ? value : null;
}
