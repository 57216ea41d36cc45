import type { INestApplicationContext } from '@nestjs/common';
import { CronLockError } from '../cron-lock.errors.js';
import { CronLockRegistry, type BoundJob } from '../cron-lock.registry.js';
import type { LockedRunResult } from '../runner/runner.js';
import { INVALID_SCHEDULED_AT } from '../cron-lock.messages.js';
import { originalMethodOf } from '../decorators/lock-method.js';
import { occurrenceOfTick } from '../cron-lock.bindings.js';

/**
 * Options of {@link runLockedJob}.
 *
 * @publicApi
 */
export interface RunLockedJobOptions {
  /**
   * The occurrence to run, as a `Date` or ms since epoch. Default: the occurrence a scheduler
   * tick would run now (none for a `@CronLock` method without `@Cron`/`@Interval`, which is then
   * only protected against overlapping runs).
   */
  scheduledAt?: Date | number;
}

/**
 * Runs a `@LockedCron`/`@CronLock` method now, through its lock, as a scheduler tick would:
 * acquire (claiming the occurrence), call the method with its {@link LockContext}, release.
 * No clock to wait for and, with {@link CronLockTestingModule}, no Redis.
 *
 * ```ts
 * const result = await runLockedJob(moduleRef, 'ReportsService.hourly');
 * expect(result).toMatchObject({ ran: true, value: 42 });
 * // The same occurrence again is refused, as on a second instance:
 * expect(await runLockedJob(moduleRef, 'ReportsService.hourly')).toEqual({ ran: false, reason: 'tick-done' });
 * ```
 *
 * @param app The initialised app or testing module (`await moduleRef.init()` first).
 * @param job The job's lock name (its `name` option) or `Class.method`.
 * @returns `{ ran: true, value, ctx }`, or `{ ran: false, reason }` (`held`, `tick-done`,
 *   `store-error`, `shutting-down`).
 * @throws what the method throws (after the lock is released); a {@link CronLockError} naming
 *   the known jobs when `job` is not one of them.
 * @publicApi
 */
export async function runLockedJob<T = unknown>(
  app: Pick<INestApplicationContext, 'get'>,
  job: string,
  options: RunLockedJobOptions = {},
): Promise<LockedRunResult<T>> {
  const registry = registryOf(app);
  const bound = findJob(registry, job);
  const original = originalMethodOf(bound.method);
  if (!original) {
    // Only a method replaced after the explorer bound it gets here.
    throw new CronLockError(`runLockedJob: ${bound.binding.label} is no longer a locked method.`);
  }
  const { binding, instance } = bound;
  let scheduledAt: number | undefined;
  if (options.scheduledAt !== undefined) {
    scheduledAt = new Date(options.scheduledAt).getTime();
    if (Number.isNaN(scheduledAt)) {
      throw new CronLockError(INVALID_SCHEDULED_AT(`runLockedJob(${JSON.stringify(job)})`));
    }
  } else {
    scheduledAt = occurrenceOfTick(binding, Date.now());
  }
  return binding.runner.execute(
    binding.job,
    scheduledAt,
    (ctx) => original.call(instance, ctx) as T | Promise<T>,
  );
}

function registryOf(app: Pick<INestApplicationContext, 'get'>): CronLockRegistry {
  try {
    return app.get(CronLockRegistry, { strict: false });
  } catch {
    throw new CronLockError(
      'runLockedJob: this app has no CronLockModule. ' +
        'Fix: add CronLockTestingModule.forRoot() (or CronLockModule) to its imports.',
    );
  }
}

function findJob(registry: CronLockRegistry, job: string): BoundJob {
  const byName = registry.get(job);
  if (byName) {
    return byName;
  }
  const jobs = registry.all();
  const byLabel = jobs.find((candidate) => candidate.binding.label === job);
  if (byLabel) {
    return byLabel;
  }
  const known = jobs
    .map(({ binding }) =>
      binding.job.name === binding.label ? binding.label : `${binding.job.name} (${binding.label})`,
    )
    .sort();
  throw new CronLockError(
    `runLockedJob: no locked job ${JSON.stringify(job)} in this app. ` +
      (known.length > 0
        ? `Known jobs: ${known.join(', ')}. Fix: pass one of these lock names or Class.method.`
        : 'It has no locked jobs bound. Fix: list the class in the providers of the module, and ' +
          'initialise it first (await moduleRef.init() or app.init()).'),
  );
}
