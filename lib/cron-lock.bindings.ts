import type { LockInterceptor, LockJob } from './cron-lock.interceptor.js';
import { occurrenceAt, type CronOccurrences, type OccurrenceSchedule } from './utils/occurrence.js';
import type { CronTime } from 'cron';

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
  /** The one occurrence of a one-shot job (`@LockedCron(date)`), in ms since epoch. */
  oneShotAt?: number;
  /**
   * Whether a call can be told from a scheduler tick (`@LockedCron`, see schedule-metadata.ts):
   * then a call that is not a tick is a manual run. Otherwise every call counts as a tick.
   */
  tellsManualCalls: boolean;
  interceptor: LockInterceptor;
}

/**
 * Which app's interceptor runs a given instance's locked methods. Keyed by the provider
 * instance, so several Nest apps in one process (each with its own instances) never share
 * locks' lifecycles, and an app that is garbage-collected takes its bindings with it.
 */
const bindings = new WeakMap<object, Map<string | symbol, JobBinding>>();

/** Locked methods that some CronLockModule has bound: the rest run in an app without the module. */
const boundMethods = new WeakSet<object>();

/**
 * Bindings of the methods of request-scoped providers, by method: their instances are made per
 * request, after bootstrap, so none is known to bind; a call on any of them is a manual run.
 */
const methodBindings = new WeakMap<object, JobBinding>();

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

/** Binds a method for every instance made later (request-scoped providers). */
export function bindMethod(method: object, binding: JobBinding): void {
  methodBindings.set(method, binding);
  boundMethods.add(method);
}

export function bindingOf(
  instance: object,
  methodKey: string | symbol,
  method?: object,
): JobBinding | undefined {
  return (
    bindings.get(instance)?.get(methodKey) ??
    (method === undefined ? undefined : methodBindings.get(method))
  );
}

export function isMethodBound(method: object): boolean {
  return boundMethods.has(method);
}

/**
 * The occurrence a tick of this job at `now` belongs to; `undefined` for a lock without a
 * schedule. A cron job finds it among those its previous run worked out (CronOccurrences).
 */
export function occurrenceOfTick(binding: JobBinding, now: number): number | undefined {
  if (binding.oneShotAt !== undefined) {
    return binding.oneShotAt;
  }
  if (binding.occurrences) {
    return binding.occurrences.at(now);
  }
  return binding.schedule ? occurrenceAt(binding.schedule, now, binding.cronTime) : undefined;
}
