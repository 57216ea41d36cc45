import type { LockInterceptor, LockJob } from './cron-lock.interceptor.js';
import { occurrenceAt, type CronOccurrences, type OccurrenceSchedule } from './utils/occurrence.js';
import type { CronTime } from 'cron';
import { processWide } from './utils/process-wide.js';

/** One decorated method of one provider instance, resolved and tied to its app's interceptor. */
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
  interceptor: LockInterceptor;
}

/**
 * Which app's interceptor runs a given instance's locked methods: a property of the provider
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

/** Locked methods that some CronLockModule has bound: the rest run in an app without the module. */
const boundMethods = processWide('bound-methods', () => new WeakSet<object>());

export function bindJob(
  instance: object,
  methodKey: string | symbol,
  method: object,
  binding: JobBinding,
): void {
  let methods = methodsOf(instance);
  if (!methods) {
    methods = new Map();
    if (Object.isExtensible(instance)) {
      Object.defineProperty(instance, BINDINGS, { value: methods, configurable: true });
    } else {
      sealedBindings.set(instance, methods);
    }
  }
  methods.set(methodKey, binding);
  boundMethods.add(method);
}

function methodsOf(instance: object): Map<string | symbol, JobBinding> | undefined {
  return (instance as BindingHolder)[BINDINGS] ?? sealedBindings.get(instance);
}

export function bindingOf(instance: object, methodKey: string | symbol): JobBinding | undefined {
  return methodsOf(instance)?.get(methodKey);
}

export function isMethodBound(method: object): boolean {
  return boundMethods.has(method);
}

/**
 * The occurrence a tick of this job at `now` belongs to; `undefined` for a lock without a
 * schedule. A cron job finds it among those its previous run worked out (CronOccurrences).
 */
export function occurrenceOfTick(binding: JobBinding, now: number): number | undefined {
  if (binding.occurrences) {
    return binding.occurrences.at(now);
  }
  return binding.schedule ? occurrenceAt(binding.schedule, now, binding.cronTime) : undefined;
}
