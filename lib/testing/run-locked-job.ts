import type { INestApplicationContext } from '@nestjs/common';
import {
  CronLockConfigError,
  CronLockError,
  ScheduledAtRefusedError,
} from '../cron-lock.errors.js';
import { MAX_SCHEDULED_AT_AHEAD_MS } from '../cron-lock.constants.js';
import { CronLockRegistry, type BoundJob } from '../cron-lock.registry.js';
import type { LockedRunResult } from '../runner/runner.js';
import { UNKNOWN_OPTION } from '../cron-lock.messages.js';
import { originalMethodOf } from '../decorators/lock-method.js';
import { occurrenceOfTick } from '../cron-lock.bindings.js';
import { describeValue } from '../utils/describe-value.js';
import { didYouMean } from '../utils/did-you-mean.js';
import { scheduledAtOf } from '../utils/occurrence.js';

/**
 * Options of {@link runLockedJob}.
 *
 * @publicApi
 */
export interface RunLockedJobOptions {
  /**
   * The occurrence to run, as a `Date` or a whole number of ms since epoch. Default: the
   * occurrence a scheduler tick would run now (none for a `@CronLock` method without
   * `@Cron`/`@Interval`, which is then only protected against overlapping runs).
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
 * @param job The job's lock name (its `name` option, with `_` for each space, as stored) or
 *   `Class.method`.
 * @returns `{ ran: true, value, ctx }`, or `{ ran: false, reason }`: `tick-done`, `held`,
 *   `paused` (see `CronLockService.pause()`), `queued` or `merged` (the job's `overlap`),
 *   `store-error`, `shutting-down`.
 * @throws what the method throws (after the lock is released); a {@link CronLockError} naming
 *   the known jobs when `job` is not one of them; a {@link CronLockConfigError}, without running
 *   the method, for a `job` that is not a string, or for options `CronLockService.run()` would
 *   refuse (an unknown key, a `scheduledAt` that is not a valid `Date` or a whole number of
 *   ms ≥ 0); a {@link ScheduledAtRefusedError} (`reason: 'ahead'`), without running the method,
 *   for a `scheduledAt` more than 15 minutes ahead of the store's clock, which the store refuses
 *   (a tick answers `store-error`).
 * @publicApi
 */
export async function runLockedJob<T = unknown>(
  app: Pick<INestApplicationContext, 'get'>,
  job: string,
  options: RunLockedJobOptions = {},
): Promise<LockedRunResult<T>> {
  if (typeof job !== 'string') {
    // The method itself is an easy slip; quoting a BigInt would throw a bare TypeError.
    throw new CronLockConfigError(
      `runLockedJob: the job must be its lock name or Class.method, as a string, got ` +
        `${describeValue(job)}. Fix: pass e.g. 'ReportsService.hourly'.`,
    );
  }
  const registry = registryOf(app);
  const bound = findJob(registry, job);
  const original = originalMethodOf(bound.method);
  if (!original) {
    // Only a method replaced after the explorer bound it gets here.
    throw new CronLockError(`runLockedJob: ${bound.binding.label} is no longer a locked method.`);
  }
  const { binding, instance } = bound;
  const scheduledAt = requestedOccurrence(job, options) ?? occurrenceOfTick(binding, Date.now());
  let called = false;
  try {
    return await binding.runner.execute(
      binding.job,
      scheduledAt,
      (ctx) => {
        called = true;
        return original.call(instance, ctx) as T | Promise<T>;
      },
      'api',
      // Not the `store-error` skip of a tick: logs are off in tests, so it would not say why.
      'reject',
    );
  } catch (error) {
    // `called`: the same class thrown by the method itself is the method's to report.
    if (!called && error instanceof ScheduledAtRefusedError) {
      throw refusedIn(job, scheduledAt, error);
    }
    throw error;
  }
}

/** The store's refusal of `scheduledAt`, naming the call, with a fix that fits a test. */
function refusedIn(
  job: string,
  scheduledAt: number | undefined,
  error: ScheduledAtRefusedError,
): ScheduledAtRefusedError {
  const call = `runLockedJob(${JSON.stringify(job)})`;
  if (error.reason !== 'ahead' || scheduledAt === undefined) {
    return new ScheduledAtRefusedError(error.reason, `${call}: ${error.message}`);
  }
  const minutes = MAX_SCHEDULED_AT_AHEAD_MS / 60_000;
  return new ScheduledAtRefusedError(
    'ahead',
    `${call}: scheduledAt ${new Date(scheduledAt).toISOString()} is more than ${minutes} minutes ` +
      "ahead of the lock store's clock: the store refused it, nothing was claimed and the job " +
      "did not run. Fix: pass an occurrence in the past (e.g. new Date('2025-01-01T10:00:00Z')) " +
      `or at most ${minutes} minutes ahead.`,
  );
}

const OPTION_KEYS = ['scheduledAt'];

/**
 * The occurrence `options` names, checked as `CronLockService.run()` checks it: `new Date(x)`
 * would truncate a fraction (another occurrence than the one asked), turn `null` or `true` into
 * 1970, and let a negative number through to the store, which refuses it as a store error that a
 * test with logs off never sees. A misspelt key would leave the default occurrence in its place.
 */
function requestedOccurrence(job: string, options: RunLockedJobOptions): number | undefined {
  const call = `runLockedJob(${JSON.stringify(job)})`;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CronLockConfigError(
      `${call}: options must be an object such as { scheduledAt: new Date() }, got ` +
        `${describeValue(options)}. Fix: pass an object, or leave the argument out.`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new CronLockConfigError(
        UNKNOWN_OPTION(call, key, didYouMean(key, OPTION_KEYS), OPTION_KEYS),
      );
    }
  }
  return scheduledAtOf(options.scheduledAt, call);
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
