import type { LockRunner, LockJob } from './runner/runner.js';
import type { OccurrencePolicy } from './options/job-options.js';
import type { OccurrenceDriver } from './runner/occurrence-driver.js';
import type { OccurrenceRange } from './utils/occurrence-range.js';
import { occurrenceAt, type CronOccurrences, type OccurrenceSchedule } from './utils/occurrence.js';
import type { CronTime } from 'cron';
import { processWide } from './utils/process-wide.js';
import { unrefTimer } from './utils/unref-timer.js';

/** One decorated method of one provider instance, resolved and tied to its app's runner. */
export interface JobBinding {
  job: LockJob;
  /** `Class.method`, for messages. */
  label: string;
  /** How ticks map to occurrences; `undefined` for a lock without a schedule. */
  schedule?: OccurrenceSchedule;
  /** The parsed cron expression, reused at every tick. */
  cronTime?: CronTime;
  /** The occurrences of a cron schedule, remembered from tick to tick (see CronOccurrences). */
  occurrences?: CronOccurrences;
  /** The one occurrence of a one-shot job (`@LockedCron(date)`), in ms since epoch. */
  oneShotAt?: number;
  /**
   * Whether a call can be told from a scheduler tick (`@LockedCron`, see interop/nestjs-schedule.ts):
   * then a call that is not a tick is a manual run. Otherwise every call counts as a tick.
   */
  tellsManualCalls: boolean;
  /**
   * The locked function this binding was made for: the most derived one on the instance. Another
   * locked function under the same key (a base class's, reached through `super`, or a second lock
   * decorator below) runs inside this one's run, so it calls its body directly.
   */
  locked: object;
  runner: LockRunner;
  /** `catchUp`, `catchUpWindow`, `overlap` of a `@LockedCron` job. */
  policy?: OccurrencePolicy;
  /** The occurrences of a cron schedule between two instants (missed, catch-up). */
  range?: OccurrenceRange;
  /** `disabled: true` (`@LockedCron`): the job starts when its CronJob is started. */
  disabled?: boolean;
  /** `initialDelay` in ms (`@LockedCron`): the scheduler starts the job that much later. */
  initialDelay?: number;
  /**
   * The timer of `initialDelay`, armed at the binding (a little before the scheduler arms its
   * own) and cleared when it ends: a scheduler tick while it is pending is not run. See bindJob.
   */
  delayTimer?: ReturnType<typeof setTimeout>;
  /** Runs missed and queued occurrences of a job with `catchUp` or an overlap policy. */
  driver?: OccurrenceDriver;
}

/**
 * Which app's runner runs a given instance's locked methods: a property of the provider
 * instance, so several Nest apps in one process (each with its own instances) never share
 * locks' lifecycles, and an app that is garbage-collected takes its bindings with it.
 *
 * A property, not a WeakMap keyed by the instance: an instrumented app
 * (`instrument.instanceDecorator`, e.g. @nestjs/observe in the Nest 12 starter) gives Nest a Proxy
 * of each provider, and the scheduler's call reaches the method with either the proxy or the raw
 * instance behind it as `this`. Defined through the proxy, the property lands on the raw instance
 * and reads the same from both. A registered symbol, so both builds of the package read it.
 */
const BINDINGS = Symbol.for('nestjs-cron-lock.v1.bindings');

interface BindingHolder {
  [BINDINGS]?: Map<string | symbol, JobBinding>;
}

/** For an instance that takes no new property (frozen, sealed): keyed by the instance itself. */
const sealedBindings = processWide(
  'sealed-bindings',
  () => new WeakMap<object, Map<string | symbol, JobBinding>>(),
);

/**
 * For each locked method, one entry per binding whose app has not yet had `@nestjs/schedule`
 * mount the job: the app's runner, so the app can withdraw its entries when it closes.
 * `@nestjs/schedule` mounts a job once per provider instance (see interop/nestjs-schedule.ts); the
 * method is shared by every app in the process, but the count is not, so an app without the
 * module finds no entry of its own even after another app bound the same class.
 *
 * Held weakly: a bootstrap that fails after the module initialised (another module's
 * `onModuleInit`) is never closed, so its entries are never withdrawn. Held strongly, they kept that
 * app's runner and store for the life of the process and stood in for a later app without the
 * module. A live app's container holds its runner; once the runner is collected the entry is
 * dropped. A new process-wide key: another copy of the package with the strong list never reads it.
 */
const awaitingMount = processWide('weak-awaiting-mount', () => new WeakMap<object, Entry[]>());
type Entry = WeakRef<object>;

export function bindJob(
  instance: object,
  methodKey: string | symbol,
  method: object,
  binding: JobBinding,
): void {
  if (binding.initialDelay !== undefined && binding.disabled !== true) {
    // @nestjs/schedule starts the CronJob once `initialDelay` is over from 6.1.3 (and in 12) on;
    // 6.0.0 to 6.1.1, inside the peer range, ignore the key and start it at bootstrap. The ticks
    // those send before the delay ends are dropped, so the job runs when a later release would
    // first tick it. A disabled job ignores its delay (its `start()` starts it at once).
    // A timer, as the scheduler's own delay, not a wall-clock deadline: it ends after that much
    // elapsed time whatever the clock does meanwhile (an NTP step back, a test's setSystemTime),
    // and fake timers advance both alike. Armed first, it ends before the scheduler's.
    const timer = setTimeout(() => {
      binding.delayTimer = undefined;
    }, binding.initialDelay);
    unrefTimer(timer);
    binding.delayTimer = timer;
  }
  bindInstance(instance, methodKey, binding);
  const waiting = liveEntries(awaitingMount.get(method) ?? []);
  waiting.push(new WeakRef(binding.runner));
  awaitingMount.set(method, waiting);
}

/**
 * Binds an object's locked method to its app. The object is a provider instance, or the
 * prototype of an app's own subclass of a scoped provider (see interop/nest-scopes.ts), which every
 * instance the app makes of it after bootstrap reads through its prototype chain.
 */
export function bindInstance(
  instance: object,
  methodKey: string | symbol,
  binding: JobBinding,
): void {
  let methods = ownMethodsOf(instance);
  if (!methods) {
    methods = new Map();
    if (Object.isExtensible(instance)) {
      Object.defineProperty(instance, BINDINGS, { value: methods, configurable: true });
    } else {
      sealedBindings.set(instance, methods);
    }
  }
  methods.set(methodKey, binding);
}

/**
 * Called as `@nestjs/schedule` mounts `method`'s job: whether a binding made for that mount
 * exists (and uses it up). `false` means the app mounting the job has no CronLockModule.
 */
export function claimMount(method: object): boolean {
  const waiting = awaitingMount.get(method) ?? [];
  while (waiting.length > 0) {
    if (waiting.shift()!.deref() !== undefined) {
      return true;
    }
  }
  return false;
}

/** The entries whose app was not collected (see awaitingMount). */
function liveEntries(entries: Entry[]): Entry[] {
  return entries.filter((entry) => entry.deref() !== undefined);
}

/** The bindings made on this very object, not those it reads from a prototype. */
function ownMethodsOf(instance: object): Map<string | symbol, JobBinding> | undefined {
  return Object.prototype.hasOwnProperty.call(instance, BINDINGS)
    ? (instance as BindingHolder)[BINDINGS]
    : sealedBindings.get(instance);
}

function methodsOf(instance: object): Map<string | symbol, JobBinding> | undefined {
  return (instance as BindingHolder)[BINDINGS] ?? sealedBindings.get(instance);
}

/**
 * Drops the entries an app left unmounted (no scheduler, failed bootstrap) as it closes, and
 * clears its jobs' `initialDelay` timers: none outlives the app. The delay then never ends, as
 * `@nestjs/schedule` 6.1.3 never starts a job whose app closed during it.
 */
export function withdrawMounts(
  runner: object,
  bound: Iterable<{ method: object; binding: JobBinding }>,
): void {
  for (const { method, binding } of bound) {
    clearTimeout(binding.delayTimer);
    const waiting = awaitingMount.get(method);
    if (waiting) {
      awaitingMount.set(
        method,
        liveEntries(waiting).filter((entry) => entry.deref() !== runner),
      );
    }
  }
}

/** The binding of an instance's locked method: its own, or its app's subclass's (scoped providers). */
export function bindingOf(instance: object, methodKey: string | symbol): JobBinding | undefined {
  return methodsOf(instance)?.get(methodKey);
}

/**
 * How long before a one-shot date a tick still claims it. `cron` fires its timer no earlier than
 * the date (it re-arms a timer that lands early); the margin keeps a timer that lands a few ms
 * early, in some other version, from making a manual run on every instance.
 */
const ONE_SHOT_EARLY_TICK_MS = 1_000;

/**
 * The occurrence a tick of this job at `now` belongs to; `undefined` for a lock without a
 * schedule, or for a tick of a one-shot job before its date (`fireOnTick()`, `runLockedJob`),
 * which is a manual run. A cron job finds it among those its previous run worked out
 * (CronOccurrences).
 */
export function occurrenceOfTick(binding: JobBinding, now: number): number | undefined {
  if (binding.oneShotAt !== undefined) {
    // Claimed early, the date would be done fleet-wide and its scheduled tick skipped everywhere.
    return now >= binding.oneShotAt - ONE_SHOT_EARLY_TICK_MS ? binding.oneShotAt : undefined;
  }
  if (binding.occurrences) {
    return binding.occurrences.at(now);
  }
  return binding.schedule ? occurrenceAt(binding.schedule, now, binding.cronTime) : undefined;
}
