import type { Cluster } from 'ioredis';
import { LockStoreError } from '../../cron-lock.errors.js';
import { withTimeout } from '../../utils/with-timeout.js';
import { nodeKey, unreachedSlots } from './history.js';
import { CLUSTER_PING_UNREACHED } from './redis.messages.js';
import { isReplyError } from './reply-error.js';

/**
 * One `PING` to every master of a Cluster, in parallel, each bounded by `timeoutMs`; rejects with
 * a {@link LockStoreError} naming the slots whose master is out of reach. A `PING` without a key
 * goes to any one node, while each job's keys live on the master of its slot: one master up said
 * nothing of the locks of a master down (the health check stayed up while they all failed).
 *
 * ioredis drops a master from its pool as soon as its connection ends, while its slot map still
 * names it, and adds it back only at its next slot refresh: when a slot's master is out of the
 * pool, the slot map is refreshed first (bounded by `timeoutMs` too), so a master that came back,
 * or the replica promoted in its place, counts as up again without waiting for a `MOVED`.
 */
export async function pingClusterMasters(cluster: Cluster, timeoutMs: number): Promise<void> {
  if (unreachedSlots(cluster, new Set()).size > 0) {
    const refreshed = new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve()));
    await withTimeout(refreshed, timeoutMs, 'slot refresh unanswered').catch(() => undefined);
  }
  const masters = cluster.nodes('master');
  const pings = await Promise.allSettled(
    masters.map((node) => withTimeout(node.ping(), timeoutMs, 'PING unanswered')),
  );
  const failed = new Set<string>();
  pings.forEach((ping, index) => {
    if (ping.status === 'fulfilled') {
      return;
    }
    // A server's refusal (NOPERM, LOADING) is its answer, and says more than "out of reach".
    if (isReplyError(ping.reason)) {
      throw ping.reason;
    }
    failed.add(nodeKey(masters[index]));
  });
  const unreached = unreachedSlots(cluster, failed);
  if (unreached.size > 0) {
    throw new LockStoreError(CLUSTER_PING_UNREACHED([...unreached]));
  }
}
