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
 * Which app's interceptor runs a given instance's locked methods. Keyed by the provider
 * instance, so several Nest apps in one process (each with its own instances) never share
 * locks' lifecycles, and an app that is garbage-collected takes its bindings with it.
 */
const bindings = processWide(
  'bindings',
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
  let methods = bindings.get(instance);
  if (!methods) {
    methods = new Map();
    bindings.set(instance, methods);
  }
  methods.set(methodKey, binding);
  boundMethods.add(method);
}

export function bindingOf(instance: object, methodKey: string | symbol): JobBinding | undefined {
  return bindings.get(instance)?.get(methodKey);
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
