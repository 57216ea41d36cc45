import type { Cluster, Redis } from 'ioredis';
import type { JobSchedule, PauseRequest } from '../lock-store.interface.js';
import { defineScript, runScript } from './redis-script.js';

/**
 * Pauses a job: `paused` (server ms when paused), `p_reason` and `p_until` (server-clock ms, ''
 * for "until resumed") in the job's state hash, where ACQUIRE_SCRIPT reads them with the fields it
 * reads anyway: checking the pause costs no extra round trip. The hash is created when missing (a
 * job paused before any instance ran it) and kept at least the state ttl, so a pause outlives its
 * `until`; a paused job's skipped occurrences keep refreshing it (see ACQUIRE_SCRIPT). The history
 * list gets the same expiry when the state's is rewritten: the acquisitions that follow find more
 * than half of it left and leave both alone, so a list left behind would expire first.
 *
 * KEYS[1] state · KEYS[2] history · ARGV: reason or '', until ms or '', state ttl ms · returns 1
 */
export const PAUSE_SCRIPT = defineScript(`
local now = redis.call('TIME')
local nowMs = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('HSET', KEYS[1], 'paused', string.format('%.0f', nowMs), 'p_reason', ARGV[1], 'p_until', ARGV[2])
local stateTtl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < stateTtl then
  redis.call('HSET', KEYS[1], 'exp_at', string.format('%.0f', nowMs + stateTtl))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
`);

/**
 * Ends a pause. Answers whether one was in force (a pause whose `until` has passed on the
 * server's clock was over already).
 *
 * KEYS[1] state · returns 1 was paused, 0 was not
 */
export const RESUME_SCRIPT = defineScript(`
local pause = redis.call('HMGET', KEYS[1], 'paused', 'p_until')
if not pause[1] then
  return 0
end
redis.call('HDEL', KEYS[1], 'paused', 'p_reason', 'p_until')
local untilMs = tonumber(pause[2])
if not untilMs then
  return 1
end
local now = redis.call('TIME')
if untilMs > now[1] * 1000 + math.floor(now[2] / 1000) then
  return 1
end
return 0
`);

/**
 * Records a job's schedule (`cron`, `tz`, '' for local time) for `inspect()` and the CLI. A hash
 * it creates gets the state ttl (ACQUIRE_SCRIPT then rewrites it, finding no `exp_at`).
 *
 * KEYS[1] state · ARGV: cron, time zone or '', state ttl ms · returns 1
 */
export const REGISTER_JOB_SCRIPT = defineScript(`
redis.call('HSET', KEYS[1], 'cron', ARGV[1], 'tz', ARGV[2])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
`);

export async function pauseJob(
  client: Redis | Cluster,
  keys: [state: string, history: string],
  pause: PauseRequest,
  stateTtl: number,
): Promise<void> {
  const until = pause.until === null ? '' : Math.round(pause.until);
  await runScript(client, PAUSE_SCRIPT, keys, [pause.reason ?? '', until, stateTtl]);
}

export async function resumeJob(client: Redis | Cluster, stateKey: string): Promise<boolean> {
  return Number(await runScript(client, RESUME_SCRIPT, [stateKey], [])) === 1;
}

export async function registerJob(
  client: Redis | Cluster,
  stateKey: string,
  schedule: JobSchedule,
  stateTtl: number,
): Promise<void> {
  await runScript(
    client,
    REGISTER_JOB_SCRIPT,
    [stateKey],
    [schedule.cron, schedule.timeZone ?? '', stateTtl],
  );
}
