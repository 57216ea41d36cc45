import type { Cluster, Redis } from 'ioredis';
import type { AcquireRequest, AcquireResult } from '../lock-store.interface.js';
import { sendSetNxPx } from './ioredis/send.js';

/**
 * Takes a plain lock ({@link AcquireRequest.plain}): `SET lock token NX PX ttl`, one native
 * command, nothing else. No occurrence is claimed, no holder recorded and no fencing token handed
 * out (`0`): a script call costs the server several times what `SET` does, and a fencing token
 * needs one (it must come from the server). Jobs, and `run()` with `scheduledAt` or `record`,
 * take {@link ACQUIRE_SCRIPT} instead.
 */
export function acquirePlainLock(
  client: Redis | Cluster,
  lockKey: string,
  request: AcquireRequest,
  fail: (error: unknown) => never,
): Promise<AcquireResult> {
  return sendSetNxPx(client, lockKey, request.token, request.ttl).then(readSetReply, fail);
}

const readSetReply = (reply: unknown): AcquireResult =>
  reply === 'OK' ? { acquired: true, fencingToken: 0 } : { acquired: false, reason: 'held' };
