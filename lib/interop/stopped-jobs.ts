import type { ModuleRef } from '@nestjs/core';
import { SchedulerRegistry } from '@nestjs/schedule';
import { readCronOptions } from './nestjs-schedule.js';

/**
 * Whether the app's `CronJob` of the locked `method` was stopped at run time: seen running once
 * and no longer (`stop()`; `isActive`, which `cron` clears at once, also with
 * `waitForCompletion`), or gone from `SchedulerRegistry` (`deleteCronJob()`, also during an
 * `initialDelay`, after which `@nestjs/schedule` no longer starts it). Not stopped: a job not
 * started yet (`disabled`, `initialDelay`), one not found (before the scheduler mounted it, or
 * deleted before it was ever looked at), or one of several jobs of the method in the app, which
 * cannot be told apart. Each call looks, so call it while the job runs (ticks, bootstrap).
 */
export function cronJobStopped(moduleRef: ModuleRef, method: object): () => boolean {
  const marker = readCronOptions(method)?.onComplete;
  // Read once: every call is on a tick's path, and a lookup there would be paid per tick.
  let registry: SchedulerRegistry | null | undefined;
  let found: { key: string; job: MountedJob } | undefined;
  // The registry's size when a search last found nothing: searched again only once it changed.
  let searchedAt = -1;
  let seenActive = false;
  return () => {
    registry ??= registryOf(moduleRef);
    if (registry === null || typeof marker !== 'function') {
      return false;
    }
    const jobs = registry.getCronJobs() as Map<string, MountedJob>;
    if (found === undefined && jobs.size !== searchedAt) {
      found = findMounted(jobs, marker);
      searchedAt = jobs.size;
    }
    if (found === undefined) {
      return false;
    }
    if (found.job.isActive) {
      seenActive = true;
      return false;
    }
    // Stopped first, then deleted: only an inactive job can be gone.
    return seenActive || jobs.get(found.key) !== found.job;
  };
}

/** What `cronJobStopped` reads of a `CronJob`. */
interface MountedJob {
  onComplete?: unknown;
  isActive: boolean;
}

/** The one job of `jobs` whose `onComplete` is `marker`, with its key; none when not one. */
function findMounted(
  jobs: Map<string, MountedJob>,
  marker: unknown,
): { key: string; job: MountedJob } | undefined {
  let match: { key: string; job: MountedJob } | undefined;
  for (const [key, job] of jobs) {
    if (job.onComplete === marker) {
      if (match !== undefined) {
        return undefined;
      }
      match = { key, job };
    }
  }
  return match;
}

/** The app's scheduler registry, or `null` when it has no scheduler. */
function registryOf(moduleRef: ModuleRef): SchedulerRegistry | null {
  try {
    return moduleRef.get(SchedulerRegistry, { strict: false });
  } catch {
    return null;
  }
}
