import type { Cluster, Redis } from 'ioredis';
import type { ReleaseRequest } from '../../interfaces/lock-store.interface.js';
import { defineScript, runScript } from './redis-script.js';

/**
 * Deletes the lock only if the caller still owns it (a late release must never free another
 * instance's lock), or, for `minHold`, shortens it to the time left. The state hash with the
 * occurrence marker is left alone so a late instance cannot re-run this occurrence.
 *
 * KEYS[1] lock · ARGV: token, keep ms (0 = delete) · returns 1 released, 0 not ours
 */
export const RELEASE_SCRIPT = defineScript(`
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
  lockKey: string,
  request: ReleaseRequest,
): Promise<boolean> {
  const keep = Math.max(0, Math.round(request.keepFor ?? 0));
  return Number(await runScript(client, RELEASE_SCRIPT, [lockKey], [request.token, keep])) === 1;
}
