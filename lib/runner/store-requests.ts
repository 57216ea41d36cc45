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
  // Fields set one by one, not spread in: this runs on every release.
  const request: ReleaseRequest = { name: job.name, token: lock.token, keepFor };
  if (job.plain) {
    request.plain = true;
  } else if (outcome) {
    request.outcome = outcome;
    request.historySize = options.historySize;
  }
  if (lock.missed?.length) {
    request.missed = lock.missed;
  }
  if (job.onQueued) {
    request.onQueued = job.onQueued;
  }
  return request;
}
