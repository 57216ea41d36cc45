import { INVALID_LOCK_NAME, NAME_RULE } from '../cron-lock.messages.js';

/**
 * `member`: `Class.member`; `kind`: what it is instead of an instance method. Thrown as the class
 * is defined: `@nestjs/schedule` schedules instance methods only, and the module binds nothing else.
 */
export const NOT_AN_INSTANCE_METHOD = (decorator: string, member: string, kind: string): string =>
  `${member}: ${decorator} decorates instance methods only, and this is ${kind}, which would ` +
  `never be scheduled or locked. Fix: move the decorator to an instance method of a provider ` +
  `(for a static method, an instance method that calls it).`;

/** `member`: `Class.Symbol(description)`. Thrown as the class is defined. */
export const SYMBOL_KEYED_METHOD = (decorator: string, member: string): string =>
  `${member}: ${decorator} is on a method with a symbol key, which Nest never scans, so it would ` +
  `never be scheduled or locked (app.init() would pass and the job never run). Fix: give the ` +
  `method a string name.`;

/**
 * `override` (`Class.method`) replaces `base`, a locked method, without a decorator of its own,
 * and reached it through `super`: thrown by that call. `decorator` is the base's.
 */
export const UNDECORATED_OVERRIDE = (
  override: string,
  base: string,
  decorator: string,
  method: string,
): string =>
  `${override} overrides ${base}, which is decorated with ${decorator}, without a lock ` +
  `decorator of its own, so ${override} is no job: as with @Cron, nothing schedules it, and ` +
  `its super.${method}() call has no lock to run the base body under. Fix: decorate ` +
  `${override} as ${base} is; super.${method}(ctx) then runs the base body inside the ` +
  `override's run. To keep the override unscheduled, move the base body to an undecorated ` +
  `method and call that instead.`;

/** `job` (`Class.method`) has `@CronLock` written above `@LockedCron`: thrown at bootstrap. */
export const LOCK_ABOVE_LOCKED_CRON = (job: string): string =>
  `${job}: @CronLock is written above @LockedCron on the same method. @LockedCron already runs ` +
  `every tick and every call under the job's lock, and a second lock around it leaves the job ` +
  `the scheduler mounts without its binding. Fix: remove @CronLock and pass its options to ` +
  `@LockedCron, which takes the same lock options.`;

/**
 * `job` (`Class.method`) has the lock decorator `inner` written under `outer`, other than
 * `@CronLock` above `@LockedCron` (see LOCK_ABOVE_LOCKED_CRON): thrown at bootstrap.
 */
export const LOCKS_STACKED = (job: string, outer: string, inner: string): string =>
  outer === inner
    ? `${job}: ${outer} is written twice on the same method. The method is one job with one ` +
      `lock: the outer ${outer} would run every call under its lock, and the inner one's ` +
      `options${outer === '@LockedCron' ? ', its schedule included,' : ''} would be ignored. ` +
      `Fix: keep one ${outer}, with the options you mean; for a second ` +
      `${outer === '@LockedCron' ? 'schedule' : 'lock'}, decorate another method that calls a ` +
      `shared undecorated one.`
    : `${job}: ${outer} is written above ${inner} on the same method. ${outer} already runs ` +
      `every tick and every call under the job's lock, so the ${inner} below it would take no ` +
      `lock and its options would be ignored. Fix: remove ${inner} and pass its options to ` +
      `${outer}, which takes the same lock options.`;

/**
 * `job` (`Class.method`) has `decorator` (`@Cron`, `@Interval` or `@Timeout`) written `position`
 * `@LockedCron`: thrown at bootstrap. `@nestjs/schedule` mounts one job per method.
 */
export const SCHEDULE_BESIDE_LOCKED_CRON = (
  job: string,
  decorator: string,
  position: 'above' | 'below',
): string =>
  `${job}: ${decorator} is written ${position} @LockedCron on the same method. @LockedCron ` +
  `already schedules the method, and the scheduler mounts one job per method: ` +
  (position === 'above'
    ? `it would run ${decorator}'s job instead, each run a manual run on every instance, not ` +
      `one run per occurrence across the fleet. `
    : `${decorator}'s schedule and options would be ignored. `) +
  (decorator === '@Cron'
    ? `Fix: remove @Cron and pass its cron expression and options to @LockedCron, which takes ` +
      `every CronOptions key.`
    : `Fix: keep @LockedCron alone for a cron schedule, or replace it with @CronLock to lock ` +
      `the ${decorator}.`);

/**
 * What a job whose lock name the pattern refuses fails with at bootstrap. `given` is its `name`
 * option as written: `undefined` when the name is the default `Class.method` (`label`), which the
 * user never wrote, so the fix is a `{ name }` option, not other characters.
 */
export const REFUSED_JOB_NAME = (label: string, given: unknown): string =>
  given === undefined
    ? `${label}: the default lock name ${JSON.stringify(label)} (ClassName.methodName) is not ` +
      `allowed: a lock name is ${NAME_RULE} (no braces, spaces, glob characters or non-ASCII ` +
      `letters). Fix: give the job a { name } option of ${NAME_RULE}, e.g. ` +
      `{ name: '${suggestedName(label)}' }.`
    : INVALID_LOCK_NAME(label, given, true);

/** `label` with accents dropped and other refused characters left out, or a generic example. */
function suggestedName(label: string): string {
  const ascii = label
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._:-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 128);
  return /[A-Za-z0-9]/.test(ascii) ? ascii : 'reports.nightly';
}
