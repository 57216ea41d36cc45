import { bindingOf, occurrenceOfTick } from '../cron-lock.bindings.js';
import { CRON_LOCK_METADATA } from '../cron-lock.constants.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { MODULE_MISSING } from '../cron-lock.messages.js';
import { processWide } from '../utils/process-wide.js';
import { isSchedulerTick, scheduleDecoratorOf } from '../interop/nestjs-schedule.js';
import { bindLate } from '../interop/lazy-modules.js';
import {
  LOCK_ABOVE_LOCKED_CRON,
  LOCKS_STACKED,
  NOT_AN_INSTANCE_METHOD,
  SYMBOL_KEYED_METHOD,
  SCHEDULE_BESIDE_LOCKED_CRON,
  UNDECORATED_OVERRIDE,
} from './decorator.messages.js';
import type { CronLockMetadata } from './cron-lock.decorator.js';

type AnyMethod = (this: object, ...args: unknown[]) => unknown;

/** The method each locked replacement wraps, so runLockedJob() (testing) can pick the occurrence. */
const originals = processWide('original-methods', () => new WeakMap<object, AnyMethod>());

/** The undecorated method behind a locked one, or `undefined` for any other function. */
export function originalMethodOf(locked: object): AnyMethod | undefined {
  return originals.get(locked);
}

/**
 * Replaces a method by one that runs it under its lock. The lock is looked up per instance
 * at call time (see cron-lock.bindings.ts), so the replacement can be installed when the class
 * is declared — before any module exists — and whichever order `ScheduleModule` and
 * `CronLockModule` initialise in, `@nestjs/schedule` always schedules the locked method.
 *
 * A scheduler tick runs the occurrence it belongs to, once across the fleet. A call from
 * application code of a method that can tell (`@LockedCron`) is a manual run: under the lock,
 * claiming no occurrence, with the caller's arguments after the context.
 *
 * Metadata already on the original (e.g. from a `@Cron` applied first) is copied over, so
 * `@CronLock` composes with `@Cron`/`@Interval` in either order.
 */
export function lockMethod(original: AnyMethod, methodKey: string | symbol): AnyMethod {
  const locked = async function (this: object, ...args: unknown[]): Promise<unknown> {
    let binding = this ? bindingOf(this, methodKey) : undefined;
    if (!binding) {
      // Before bindLate(): that would bind an instance the app bound at bootstrap once more, as
      // made later (for calls only), and its other jobs would lose their drivers.
      const override = this ? undecoratedOverrideOf(this, methodKey, locked) : undefined;
      if (override !== undefined) {
        throw new CronLockConfigError(override);
      }
      binding = this && bindLate(this) ? bindingOf(this, methodKey) : undefined;
    }
    if (!binding) {
      const className = (this as { constructor?: { name?: string } } | undefined)?.constructor
        ?.name;
      throw new CronLockConfigError(
        MODULE_MISSING(`${className ?? 'unknown'}.${String(methodKey)}`),
      );
    }
    if (binding.locked !== locked) {
      // The instance's job is a subclass's override that reached this one through `super`: its
      // run holds the lock, and a nested run would be skipped as held. (Two lock decorators on
      // one method never get here: checkLockOrder refuses them at bootstrap.)
      return original.apply(this, args);
    }
    if (binding.tellsManualCalls && !isSchedulerTick(args)) {
      const result = await binding.runner.execute(
        binding.job,
        undefined,
        (ctx) => original.call(this, ctx, ...args),
        'method',
      );
      return result.ran ? result.value : undefined;
    }
    if (binding.delayTimer !== undefined) {
      // A tick during `initialDelay`: only a scheduler that ignores the key sends one (see bindJob).
      return undefined;
    }
    const scheduledAt = occurrenceOfTick(binding, Date.now());
    try {
      const result = binding.driver
        ? await binding.driver.tick(scheduledAt)
        : await binding.runner.execute(
            binding.job,
            scheduledAt,
            (ctx) => original.call(this, ctx, ...(binding.tellsManualCalls ? [] : args)),
            'tick',
          );
      return result.ran ? result.value : undefined;
    } catch (error) {
      if (binding.tellsManualCalls) {
        // The lock logged it (with the job, occurrence and fencing token): rethrown, it would be
        // logged a second time by @nestjs/schedule, which ignores what a tick returns anyway.
        return undefined;
      }
      throw error;
    } finally {
      // After the run, not before it: off the path from the tick to the job's first line.
      binding.occurrences?.prepare();
    }
  };
  Object.defineProperty(locked, 'name', { value: original.name, configurable: true });
  originals.set(locked, original);
  for (const key of Reflect.getMetadataKeys(original) as unknown[]) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, original), locked);
  }
  return locked;
}

/** The metadata of a locked function, or of a wrapper stacked above one (a copy), if any. */
function lockMetadataOf(method: unknown): CronLockMetadata | undefined {
  return typeof method === 'function'
    ? (Reflect.getMetadata(CRON_LOCK_METADATA, method) as CronLockMetadata | undefined)
    : undefined;
}

/**
 * The message for a call of `locked` reached through `super` from an override left undecorated,
 * or `undefined` for any other call. Such an override is no job (nothing schedules or binds it,
 * as with `@Cron`), so the base body has no lock to run under, and "module not imported" would
 * send the user to the wrong place.
 */
function undecoratedOverrideOf(
  instance: object,
  methodKey: string | symbol,
  locked: object,
): string | undefined {
  // From the prototype, not the instance: a method bound in the constructor is an own property.
  let owner: object | null = Object.getPrototypeOf(instance);
  while (owner && !Object.prototype.hasOwnProperty.call(owner, methodKey)) {
    owner = Object.getPrototypeOf(owner);
  }
  const mostDerived = owner ? (owner as Record<string | symbol, unknown>)[methodKey] : undefined;
  if (!owner || mostDerived === locked || lockMetadataOf(mostDerived)) {
    return undefined;
  }
  // The undecorated override must sit above the class whose method is `locked`.
  for (let base = Object.getPrototypeOf(owner); base; base = Object.getPrototypeOf(base)) {
    if (!Object.prototype.hasOwnProperty.call(base, methodKey)) {
      continue;
    }
    const method = (base as Record<string | symbol, unknown>)[methodKey];
    const metadata = lockMetadataOf(method);
    if (method === locked || metadata?.locked === locked) {
      const own = lockMetadataOf(locked) ?? metadata;
      return UNDECORATED_OVERRIDE(
        `${(owner as { constructor: { name: string } }).constructor.name}.${String(methodKey)}`,
        `${(base as { constructor: { name: string } }).constructor.name}.${String(methodKey)}`,
        own?.cronTime === undefined ? '@CronLock' : '@LockedCron',
        String(methodKey),
      );
    }
  }
  return undefined;
}

/**
 * Refuses, at bootstrap, what would leave part of a method's decorators without effect
 * (`label`: `Class.method`; `method`: the function the scheduler mounts, maybe a wrapper above).
 *
 * A second lock decorator under the first: the outer one is the job and runs every call, so the
 * inner one takes no lock and its options (a second `@LockedCron`'s schedule too) went unused.
 * `@CronLock` above `@LockedCron` is worse: the scheduler mounts the job `@LockedCron` declared,
 * whose mount check looks for a binding of its own locked function; the explorer binds the outer
 * one, so `app.init()` rejected as if CronLockModule were missing. Made to work, the outer lock
 * could not tell a direct call from a tick (a call would claim the occurrence) and its options
 * would compete with `@LockedCron`'s.
 *
 * `@Cron`, `@Interval` or `@Timeout` beside `@LockedCron`: `@nestjs/schedule` mounts one job per
 * method, from the outermost decorator. Above, its ticks lack the marker of a tick, so each was
 * a manual run on every instance, not once across the fleet; below, it was dropped unseen.
 */
export function checkLockOrder(label: string, metadata: CronLockMetadata, method: object): void {
  if (metadata.locked === undefined) {
    return;
  }
  const below = originals.get(metadata.locked);
  const inner = lockMetadataOf(below);
  if (inner !== undefined) {
    const outerName = metadata.cronTime === undefined ? '@CronLock' : '@LockedCron';
    const innerName = inner.cronTime === undefined ? '@CronLock' : '@LockedCron';
    throw new CronLockConfigError(
      outerName === '@CronLock' && innerName === '@LockedCron'
        ? LOCK_ABOVE_LOCKED_CRON(label)
        : LOCKS_STACKED(label, outerName, innerName),
    );
  }
  if (metadata.cronTime === undefined) {
    return;
  }
  const underneath = below === undefined ? undefined : scheduleDecoratorOf(below);
  const schedule = underneath ?? scheduleDecoratorOf(method);
  if (schedule !== undefined) {
    throw new CronLockConfigError(
      SCHEDULE_BESIDE_LOCKED_CRON(label, schedule, underneath === undefined ? 'above' : 'below'),
    );
  }
}

/**
 * Refuses anything but an instance method, naming it: a static method's target is the class (so
 * `constructor.name` would read `Function`), and an accessor has no `value`.
 */
export function checkInstanceMethod(
  decorator: string,
  target: object,
  methodKey: string | symbol,
  descriptor: PropertyDescriptor | undefined,
): void {
  const isStatic = typeof target === 'function';
  const className = isStatic
    ? (target as { name: string }).name
    : (target as { constructor: { name: string } }).constructor.name;
  const member = `${className}.${String(methodKey)}`;
  if (isStatic) {
    throw new CronLockConfigError(NOT_AN_INSTANCE_METHOD(decorator, member, 'a static method'));
  }
  if (typeof descriptor?.value !== 'function') {
    const kind = descriptor?.get || descriptor?.set ? 'a getter or setter' : 'not a method';
    throw new CronLockConfigError(NOT_AN_INSTANCE_METHOD(decorator, member, kind));
  }
  // Nest's MetadataScanner lists string keys only: neither @nestjs/schedule nor the module would
  // ever find the method, so it would pass app.init() and never run.
  if (typeof methodKey === 'symbol') {
    throw new CronLockConfigError(SYMBOL_KEYED_METHOD(decorator, member));
  }
}
