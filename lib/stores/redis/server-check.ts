import type { Cluster, Redis } from 'ioredis';
import { withTimeout } from '../../utils/with-timeout.js';

/**
 * Reads the server's `maxmemory-policy`, or `null` when it cannot: managed services often block
 * or rename `CONFIG` (or the ACL user lacks `+config|get`, which the lock user should, since
 * `CONFIG GET` also reads secrets such as `requirepass`). Bounded by `timeoutMs`, so a client with
 * an offline queue cannot hold up bootstrap.
 */
export async function readEvictionPolicy(
  client: Redis | Cluster,
  timeoutMs: number,
): Promise<string | null> {
  const read = client.config('GET', 'maxmemory-policy').then((reply: unknown) => {
    // RESP2: ['maxmemory-policy', 'noeviction']; RESP3: { 'maxmemory-policy': 'noeviction' }.
    const value = Array.isArray(reply)
      ? reply[1]
      : (reply as Record<string, unknown> | null)?.['maxmemory-policy'];
    return typeof value === 'string' && value !== '' ? value : null;
  });
  return withTimeout(read, timeoutMs, 'CONFIG GET unanswered').catch(() => null);
}

/**
 * Whether a policy may evict lock keys. Every `allkeys-*` policy may; so may every `volatile-*`
 * one, because every lock and state key has an expiry. Only `noeviction` never does.
 */
export function canEvictLockKeys(policy: string): boolean {
  return /^(allkeys|volatile)-/i.test(policy);
}
