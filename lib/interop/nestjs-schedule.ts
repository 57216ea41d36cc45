import type { ModuleRef } from '@nestjs/core';
import { Cron, SchedulerRegistry } from '@nestjs/schedule';
import type { CronJobParams } from 'cron';
import { claimMount } from '../cron-lock.bindings.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { MODULE_MISSING } from '../cron-lock.messages.js';
import { processWide } from '../utils/process-wide.js';
import type { LockedCronOptions } from '../options/job-options.interface.js';

/**
 * What `@LockedCron` writes into `@nestjs/schedule`'s metadata, and what it reads back from a
 * tick: the one place that depends on how that package (and `cron`, which it runs jobs with)
 * hands a tick to the method. test/parity/ fails loudly when either changes.
 */

/** `@nestjs/schedule`'s metadata key for `@Cron` options (not exported by the package). */
export const SCHEDULE_CRON_OPTIONS = 'SCHEDULE_CRON_OPTIONS';

/** `@nestjs/schedule`'s metadata key for the kind of job a method is (not exported). */
const SCHEDULER_TYPE = 'SCHEDULER_TYPE';

/** Its value for a cron job: `SchedulerType.CRON`, an enum the package does not export. */
const SCHEDULER_TYPE_CRON = 1;

/** `@nestjs/schedule`'s provider token of `ScheduleModule.forRoot()`'s options (not exported). */
const SCHEDULE_MODULE_OPTIONS = 'SCHEDULE_MODULE_OPTIONS';

/** `@nestjs/schedule`'s metadata key for `@Interval` options (not exported by the package). */
export const SCHEDULE_INTERVAL_OPTIONS = 'SCHEDULE_INTERVAL_OPTIONS';

/** `@nestjs/schedule`'s metadata key for `@Timeout` options (not exported by the package). */
export const SCHEDULE_TIMEOUT_OPTIONS = 'SCHEDULE_TIMEOUT_OPTIONS';

/** What `@Cron` (or `@LockedCron`, through it) keeps on a method: its options and `cronTime`. */
export function readCronOptions(
  method: object,
): (Record<string, unknown> & { cronTime?: unknown }) | undefined {
  return Reflect.getMetadata(SCHEDULE_CRON_OPTIONS, method) as
    (Record<string, unknown> & { cronTime?: unknown }) | undefined;
}

/**
 * The name `@nestjs/schedule` registers `method`'s cron job under, read without side effects
 * (the getter `@LockedCron` puts on its name is not called), with the options object that names
 * the job and whether `@LockedCron` wrote it; `undefined` for a job it gives a random name.
 */
export function cronJobNameOf(
  method: object,
): { name: string; schedule: object; locked: boolean } | undefined {
  if (Reflect.getMetadata(SCHEDULER_TYPE, method) !== SCHEDULER_TYPE_CRON) {
    return undefined;
  }
  const schedule = readCronOptions(method);
  if (schedule === undefined) {
    return undefined;
  }
  const locked = lockedCronSchedules.has(schedule);
  const name = locked ? lockedCronNames.get(schedule) : schedule.name;
  return typeof name === 'string' && name !== '' ? { name, schedule, locked } : undefined;
}

/** What `@Interval` keeps on a method: its period in ms as `timeout`. */
export function readIntervalOptions(method: object): { timeout?: unknown } | undefined {
  return Reflect.getMetadata(SCHEDULE_INTERVAL_OPTIONS, method) as
    { timeout?: unknown } | undefined;
}

/** What `@Timeout` keeps on a method: its delay in ms as `timeout`. */
export function readTimeoutOptions(method: object): { timeout?: unknown } | undefined {
  return Reflect.getMetadata(SCHEDULE_TIMEOUT_OPTIONS, method) as { timeout?: unknown } | undefined;
}

/**
 * The `@Cron` options objects `@LockedCron` wrote. A decorator that wraps the method copies the
 * object itself, so `@LockedCron`'s job is recognised through it; a `@Cron` written above
 * replaces it by its own. Process-wide: the module may come from the other build.
 */
const lockedCronSchedules = processWide('locked-cron-schedules', () => new WeakSet<object>());

/** The `name` option of each `@LockedCron` options object (its own `name` is a getter). */
const lockedCronNames = processWide('locked-cron-names', () => new WeakMap<object, string>());

/**
 * Checks, one per app being bootstrapped, of the cron job names `@nestjs/schedule` is about to
 * register (see CronLockExplorer). Weakly held: an app whose bootstrap failed before its check
 * ran never withdraws it, and must not be kept alive by it.
 */
const nameChecks = processWide('cron-name-checks', () => new Set<WeakRef<NameCheck>>());

/** Throws if the app it belongs to holds the job of `schedule` and a job name clashes there. */
export type NameCheck = (schedule: object) => void;

/** Runs `check` whenever `@nestjs/schedule` reads a `@LockedCron` job's name, until withdrawn. */
export function addNameCheck(check: NameCheck): void {
  nameChecks.add(new WeakRef(check));
}

export function removeNameCheck(check: NameCheck): void {
  for (const ref of nameChecks) {
    const held = ref.deref();
    if (held === undefined || held === check) {
      nameChecks.delete(ref);
    }
  }
}

function runNameChecks(schedule: object): void {
  for (const ref of [...nameChecks]) {
    const check = ref.deref();
    if (check === undefined) {
      nameChecks.delete(ref);
    } else {
      check(schedule);
    }
  }
}

/**
 * The `@nestjs/schedule` decorator (`'@Cron'`, `'@Interval'` or `'@Timeout'`) whose metadata
 * `method` carries, other than the `@Cron` options `@LockedCron` wrote, or `undefined`.
 */
export function scheduleDecoratorOf(method: object): string | undefined {
  if (readTimeoutOptions(method) !== undefined) {
    return '@Timeout';
  }
  if (readIntervalOptions(method) !== undefined) {
    return '@Interval';
  }
  const cron = readCronOptions(method);
  return cron !== undefined && !lockedCronSchedules.has(cron) ? '@Cron' : undefined;
}

/** Whether the app's `ScheduleModule.forRoot()` registers `@Cron` jobs (not `cronJobs: false`). */
export function schedulesCronJobs(moduleRef: ModuleRef): boolean {
  try {
    const options = moduleRef.get<string, { cronJobs?: boolean }>(SCHEDULE_MODULE_OPTIONS, {
      strict: false,
    });
    return options.cronJobs !== false;
  } catch {
    return false;
  }
}

/** Whether the app has `ScheduleModule.forRoot()` (its `SchedulerRegistry` is provided). */
export function findSchedulerRegistry(moduleRef: ModuleRef): boolean {
  try {
    moduleRef.get(SchedulerRegistry, { strict: false });
    return true;
  } catch {
    return false;
  }
}

/** Every key of `@nestjs/schedule`'s `CronOptions`: handed over as written, with its meaning. */
export const CRON_OPTION_KEYS = [
  'name',
  'timeZone',
  'utcOffset',
  'disabled',
  'initialDelay',
  'waitForCompletion',
  'threshold',
  'unrefTimeout',
] as const satisfies readonly (keyof LockedCronOptions)[];

/**
 * The tick markers of the locked methods. Each `@LockedCron` method passes its own to `cron` as
 * the job's `onComplete`. `cron` calls each tick's callback with its `onComplete` as the only
 * argument, and `@nestjs/schedule` passes its arguments on to the method: a call whose first
 * argument is a marker comes from a scheduler tick (the timer, or `fireOnTick()`); any other
 * call is application code calling the method (a manual run). `cron` also calls it when the job
 * stops, where it does nothing. One per method, so that the job's `CronJob` can be told apart
 * in `SchedulerRegistry`, also when it has no name (see cronJobStopped).
 */
const tickMarkers = processWide('tick-markers', () => new WeakSet<object>());

/** Whether a call of a locked method with these arguments is a scheduler tick. */
export function isSchedulerTick(args: readonly unknown[]): boolean {
  return typeof args[0] === 'function' && tickMarkers.has(args[0]);
}

/**
 * Lock names `@nestjs/schedule` has read in the current synchronous pass, with the method that
 * claimed each. Its explorer reads every job's name in one synchronous loop per app and throws
 * its own message on a duplicate; when it runs before ours (module order), that message would
 * replace ours, which names both methods and the fix.
 */
const pass = processWide('names-read-in-pass', () => ({
  names: new Map<string, object>(),
  duplicates: 0,
}));

/**
 * The name `@nestjs/schedule` registers `method`'s job under: the job's name, unless another
 * method claimed it in the same pass — then a placeholder, so that the CronLockExplorer of that
 * app (which keeps its claims per app) reports the duplicate with the right message.
 */
function scheduledName(name: string, method: object): string {
  if (pass.names.size === 0) {
    // A promise job, not queueMicrotask: Jest's fake timers fake the latter by default.
    void Promise.resolve().then(() => pass.names.clear());
  }
  const claimedBy = pass.names.get(name);
  if (claimedBy === undefined) {
    pass.names.set(name, method);
    return name;
  }
  return claimedBy === method ? name : `${name}#duplicate-${++pass.duplicates}`;
}

/**
 * Whether the app mounting `method`'s job now bound it (see claimMount). `@nestjs/schedule` may
 * read the guarded key twice in one mount (`disabled: false` with no `initialDelay` reads
 * `initialDelay` twice); one mount must use up one binding, so the answer is kept for the rest
 * of the synchronous pass.
 */
const claimsInPass = processWide('mount-claims-in-pass', () => new Map<object, boolean>());
function mountClaimed(method: object): boolean {
  const known = claimsInPass.get(method);
  if (known !== undefined) {
    return known;
  }
  if (claimsInPass.size === 0) {
    // A promise job, not queueMicrotask: Jest's fake timers fake the latter by default.
    void Promise.resolve().then(() => claimsInPass.clear());
  }
  const claimed = claimMount(method);
  claimsInPass.set(method, claimed);
  return claimed;
}

/**
 * Schedules the locked method with `@nestjs/schedule` as `@Cron(cronTime, options)` would:
 * same metadata, every `CronOptions` key kept, plus the tick marker as `onComplete`.
 *
 * The metadata stays plain data that tooling can spread or serialise outside any app. Only an
 * app that lacks `CronLockModule` must fail at bootstrap; `@nestjs/schedule` reads `disabled`
 * (and `initialDelay`) by name when it mounts the job, after every module initialised, so a
 * non-enumerable accessor there — which a spread never calls — fails `app.init()` with the fix
 * when no CronLockModule bound the method. A job that sets both keys has no such check: its
 * ticks then fail with the same message.
 */
export function scheduleLockedMethod<T>(
  target: object,
  methodKey: string | symbol,
  locked: TypedPropertyDescriptor<T>,
  cronTime: CronJobParams['cronTime'],
  options: LockedCronOptions,
  label: string,
): TypedPropertyDescriptor<T> {
  const cronOptions: Record<string, unknown> = {};
  for (const key of CRON_OPTION_KEYS) {
    if (options[key] !== undefined) {
      cronOptions[key] = options[key];
    }
  }
  const marker = function cronLockSchedulerTick(): void {};
  tickMarkers.add(marker);
  cronOptions.onComplete = marker;
  const scheduled = (Cron(cronTime, cronOptions)(target, methodKey, locked) ??
    locked) as TypedPropertyDescriptor<T>;

  const method = locked.value as object;
  const metadata = readCronOptions(method)!;
  lockedCronSchedules.add(metadata);
  const guarded = !('disabled' in cronOptions)
    ? 'disabled'
    : !('initialDelay' in cronOptions)
      ? 'initialDelay'
      : undefined;
  if (guarded !== undefined) {
    Object.defineProperty(metadata, guarded, {
      enumerable: false,
      configurable: true,
      get: () => {
        if (!mountClaimed(method)) {
          throw new CronLockConfigError(MODULE_MISSING(label));
        }
        return undefined;
      },
    });
  }
  if (typeof options.name === 'string') {
    const name = options.name;
    lockedCronNames.set(metadata, name);
    Object.defineProperty(metadata, 'name', {
      enumerable: true,
      configurable: true,
      // Read by @nestjs/schedule's explorer as it registers the job, maybe before the
      // CronLockExplorer ran: the app's own check reports a clash first, in its words.
      get: () => {
        runNameChecks(metadata);
        return scheduledName(name, method);
      },
    });
  }
  return scheduled;
}
