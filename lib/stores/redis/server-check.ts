import type { Cluster, Redis } from 'ioredis';
import type { CronLockLogger } from '../../observer/logger.js';
import { LockStoreError } from '../../cron-lock.errors.js';
import { EVICTION_POLICY_RISK, TLS_VERIFICATION_OFF } from '../../cron-lock.messages.js';
import { withTimeout } from '../../utils/with-timeout.js';
import { isClusterClient, isReadOnlyReply } from './redis-connection.js';
import { REDIS_NO_REPLICAS, REDIS_READ_ONLY_REPLICA } from './redis.messages.js';
import { certificateVerificationOff } from './tls.js';

/**
 * The startup checks of RedisLockStore: warns when TLS certificate verification is off (for a
 * client passed in too), and when the server's `maxmemory-policy` (on a Cluster, any master's)
 * may evict lock keys. Says nothing more than a debug line when the policy is safe or `CONFIG` is
 * refused (managed services block it), and never fails.
 */
export async function checkRedisDeployment(
  client: Redis | Cluster,
  readyTimeout: number,
  log: Pick<CronLockLogger, 'warn' | 'debug'>,
): Promise<void> {
  if (certificateVerificationOff(client)) {
    log.warn(TLS_VERIFICATION_OFF());
  }
  // A Cluster sends a command without a key to any one node, and each master has its own
  // setting, while a lock lives on the master of its slot: every master is read.
  const nodes = isClusterClient(client) ? client.nodes('master') : [client];
  const policies = await Promise.all(nodes.map((node) => readEvictionPolicy(node, readyTimeout)));
  const policy =
    policies.find((read) => read !== null && canEvictLockKeys(read)) ??
    policies.find((read) => read !== null) ??
    null;
  if (policy === null) {
    log.debug(
      'maxmemory-policy not readable (CONFIG GET refused or unavailable): eviction check skipped',
    );
  } else if (canEvictLockKeys(policy)) {
    log.warn(EVICTION_POLICY_RISK(policy));
  } else {
    log.debug(`Redis maxmemory-policy is ${policy}: lock keys are never evicted`);
  }
}

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

/**
 * Rejects with a {@link LockStoreError} naming the fix when the server refuses writes: a replica
 * (`READONLY`) or a master whose `min-replicas-to-write` is not met (`NOREPLICAS`). Both answer
 * `PING`. The write is a `DEL` of `key`, which no lock uses: allowed by the lock user's ACL rule,
 * refused by either server as every write is, harmless elsewhere. Any other outcome (an error
 * the runs report themselves, no answer within `timeoutMs`) resolves: it proves no refusal.
 */
export async function checkRedisWritable(
  client: Redis | Cluster,
  key: string,
  timeoutMs: number,
): Promise<void> {
  const refusal = await withTimeout(client.del(key), timeoutMs, 'DEL unanswered').then(
    () => null,
    (error: unknown) => error,
  );
  if (isReadOnlyReply(refusal)) {
    throw new LockStoreError(REDIS_READ_ONLY_REPLICA, { answered: true });
  }
  if (refusal instanceof Error && refusal.message.startsWith('NOREPLICAS')) {
    throw new LockStoreError(REDIS_NO_REPLICAS, { answered: true });
  }
}
