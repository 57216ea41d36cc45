import type { LockJob } from '../options/job-options.js';
import type { ResolvedCronLockOptions } from '../options/module-options.js';
import type { AcquireRequest, ReleaseRequest, RunOutcome } from '../stores/lock-store.interface.js';
import type { HeldLock } from './held-lock.js';

type RequestOptions = Pick<ResolvedCronLockOptions, 'instanceId' | 'historySize'>;

/** What a run asks the store for: occurrence `scheduledAt` of `job` under the owner `token`. */
export function acquireRequestOf(
  job: LockJob,
  token: string,
  scheduledAt: number | undefined,
  options: RequestOptions,
): AcquireRequest {
  return {
    name: job.name,
    token,
    ttl: job.ttl,
    scheduledAt,
    markerTtl: job.markerTtl,
    instanceId: options.instanceId,
    historySize: options.historySize,
    overlap: job.overlap,
    plain: job.plain,
    force: job.force,
    onQueued: job.onQueued,
  };
}

/**
 * The release of a run's lock. A plain lock records nothing; any other run records its outcome
 * and history (with the occurrences it found missed) in the same step.
 */
export function releaseRequestOf(
  job: LockJob,
  lock: HeldLock,
  keepFor: number,
  outcome: RunOutcome | undefined,
  options: RequestOptions,
): ReleaseRequest {
  return {
    name: job.name,
    token: lock.token,
    keepFor,
    ...(job.plain ? { plain: true } : outcome ? { outcome, historySize: options.historySize } : {}),
    ...(lock.missed?.length ? { missed: lock.missed } : {}),
    ...(job.onQueued ? { onQueued: job.onQueued } : {}),
  };
}
