import type { Cluster, Redis } from 'ioredis';
import type { StoredLockState } from '../../interfaces/lock-store.interface.js';
import { defineScript, runScript } from './redis-script.js';

/**
 * Reads the lock's remaining life and the job's state at one instant.
 * KEYS[1] lock · KEYS[2] state · returns {pttl, holder, tick, fence}
 */
export const INSPECT_SCRIPT = defineScript(`
local state = redis.call('HMGET', KEYS[2], 'holder', 'tick', 'fence')
return {redis.call('PTTL', KEYS[1]), state[1] or '', state[2] or '', state[3] or ''}
`);

export async function inspectLock(
  client: Redis | Cluster,
  name: string,
  keys: { lock: string; state: string },
): Promise<StoredLockState> {
  const [pttl, holder, tick, fence] = (await runScript(
    client,
    INSPECT_SCRIPT,
    [keys.lock, keys.state],
    [],
  )) as [number, string, string, string];
  // PTTL is 0 during the last millisecond of a lock that still exists (and can still be renewed
  // or released): report it as held, not free. -2 is a missing key; -1 never happens for a lock.
  const held = Number(pttl) >= 0;
  return {
    name,
    holder: held && holder !== '' ? holder : null,
    ttlLeft: held ? Number(pttl) : null,
    lastTick: tick !== '' ? Number(tick) : null,
    fencingToken: fence !== '' ? Number(fence) : null,
  };
}
