import type { ModuleRef } from '@nestjs/core';
import { cronJobStopped } from '../interop/stopped-jobs.js';
import { originalMethodOf } from '../decorators/lock-method.js';
import type { LockJob, OccurrencePolicy } from '../options/job-options.js';
import type { CronOccurrences } from '../utils/occurrence.js';
import type { OccurrenceRange } from '../utils/occurrence-range.js';
import { OccurrenceDriver, type DriverContext } from './occurrence-driver.js';

/**
 * The driver of a scheduled `@LockedCron` job with `catchUp` or an overlap policy, calling the
 * method itself on `instance` (as a tick does); `undefined` for any other job. `moduleRef`: the
 * app's, whose `SchedulerRegistry` tells when the job's CronJob is stopped at run time.
 */
export function driverFor(
  instance: object,
  method: object,
  binding: {
    job: LockJob;
    policy?: OccurrencePolicy;
    range?: OccurrenceRange;
    occurrences?: CronOccurrences;
    disabled?: boolean;
    initialDelay?: number;
  },
  moduleRef: ModuleRef,
  app: Omit<DriverContext, 'isStopped'>,
): OccurrenceDriver | undefined {
  const { policy, range } = binding;
  const original = originalMethodOf(method);
  if (!policy || !range || !original || (!policy.catchUp && policy.overlap === 'skip')) {
    return undefined;
  }
  return new OccurrenceDriver(
    binding.job,
    policy,
    range,
    (ctx) => original.call(instance, ctx),
    { ...app, isStopped: cronJobStopped(moduleRef, method) },
    binding.occurrences,
    binding.disabled === true,
    // A disabled job ignores its delay, as `@nestjs/schedule` does: `start()` starts it at once.
    binding.disabled === true ? 0 : binding.initialDelay,
  );
}
