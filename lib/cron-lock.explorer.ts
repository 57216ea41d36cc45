import {
  Inject,
  Injectable,
  Optional,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModuleRef } from '@nestjs/core';
import { CronTime } from 'cron';
import { bindInstance, bindJob, withdrawMounts, type JobBinding } from './cron-lock.bindings.js';
import { bindLaterInstances } from './interop/nest-scopes.js';
import { addLateBinder, madeAtLoad, removeLateBinder } from './interop/lazy-modules.js';
import { checkOneLockModule } from './interop/module-graph.js';
import {
  CRON_LOCK_METADATA,
  CRON_LOCK_OPTIONS,
  CRON_LOCK_SCHEDULER_OPTIONAL,
  CRON_LOCK_STORE,
  LOCK_NAME_PATTERN,
} from './cron-lock.constants.js';
import { CronLockConfigError } from './cron-lock.errors.js';
import { CronLockRegistry } from './cron-lock.registry.js';
import { LockRunner } from './runner/runner.js';
import { driverFor } from './runner/driver-for.js';
import { RunTracker } from './runner/run-tracker.js';
import { RunObserver } from './observer/run-observer.js';
import type { LockStore } from './stores/lock-store.interface.js';
import {
  addNameCheck,
  findSchedulerRegistry,
  readCronOptions,
  readIntervalOptions,
  removeNameCheck,
  schedulesCronJobs,
} from './interop/nestjs-schedule.js';
import { cronNameCheck } from './interop/cron-names.js';
import {
  checkLockOptions,
  resolveLockSettings,
  resolveOccurrencePolicy,
} from './options/job-options.js';
import { missedBetweenOf, OccurrenceRange } from './utils/occurrence-range.js';
import { describeThrown } from './utils/thrown.js';
import { checkOneShotDate, checkZoneOptions, oneShotOf } from './options/schedule-values.js';
import {
  CLASS_NAME_CLASH,
  DUPLICATE_LOCK_NAME,
  INVALID_CRON,
  INVALID_OPTION,
  SCHEDULE_MODULE_MISSING,
} from './cron-lock.messages.js';
import type { ResolvedCronLockOptions } from './options/module-options.js';
import type { CronLockMetadata } from './decorators/cron-lock.decorator.js';
import { checkLockOrder } from './decorators/lock-method.js';
import { REFUSED_JOB_NAME } from './decorators/decorator.messages.js';
import {
  createCronTime,
  CronOccurrences,
  periodAfter,
  shortestPeriodAfter,
  type OccurrenceSchedule,
} from './utils/occurrence.js';

/** Nest's wrapper of a provider or controller, as discovery lists it. */
type InstanceWrapper = ReturnType<DiscoveryService['getProviders']>[number];

interface Claim {
  owner: object;
  methodKey: string | symbol;
  label: string;
}

/**
 * Finds every `@LockedCron`/`@CronLock` method on this app's providers and controllers,
 * validates its options (so `app.init()` rejects with `Class.method` and the fix), and binds
 * the instance to this app's runner. Runs in `onModuleInit`, before `@nestjs/schedule`
 * starts any job in `onApplicationBootstrap`, whatever the module order.
 */
@Injectable()
export class CronLockExplorer implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(CRON_LOCK_OPTIONS) private readonly options: ResolvedCronLockOptions,
    private readonly runner: LockRunner,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly moduleRef: ModuleRef,
    private readonly registry: CronLockRegistry,
    private readonly tracker: RunTracker,
    private readonly observer: RunObserver,
    @Inject(CRON_LOCK_STORE) private readonly store: LockStore,
    @Optional()
    @Inject(CRON_LOCK_SCHEDULER_OPTIONAL)
    private readonly schedulerOptional: boolean = false,
  ) {
    // From now: @nestjs/schedule's explorer may run before ours (module order).
    this.names = cronNameCheck(discovery, scanner);
    addNameCheck(this.names.check);
  }

  private readonly claims = new Map<string, Claim>();
  private readonly names: ReturnType<typeof cronNameCheck>;

  onModuleInit(): void {
    checkOneLockModule(this.discovery);
    removeNameCheck(this.names.check);
    if (schedulesCronJobs(this.moduleRef)) {
      this.names.runNow();
    }
    let needsScheduler: string | undefined;
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      const label = this.bindWrapper(wrapper, true);
      needsScheduler ??= label;
    }
    if (
      needsScheduler !== undefined &&
      !this.schedulerOptional &&
      !findSchedulerRegistry(this.moduleRef)
    ) {
      throw new CronLockConfigError(SCHEDULE_MODULE_MISSING(needsScheduler));
    }
    addLateBinder(this.bindLate);
    this.registry.bound = true;
  }

  /**
   * A provider made after bootstrap (a lazily loaded module's): bound for calls only, since
   * `@nestjs/schedule` explores once, at bootstrap, and never schedules it. A transient one is
   * bound with every instance its module made of it, and those the app makes from then on.
   */
  private readonly bindLate = (target: object): boolean => {
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      if (wrapper.isDependencyTreeStatic() && madeAtLoad(wrapper, target)) {
        this.bindWrapper(wrapper, false);
        return true;
      }
    }
    return false;
  };

  /**
   * Binds one provider's locked methods; with `mounted`, for the scheduler to mount them too.
   * Returns the label of a method that needs `ScheduleModule`, if any.
   */
  private bindWrapper(wrapper: InstanceWrapper, mounted: boolean): string | undefined {
    let needsScheduler: string | undefined;
    const isStatic = wrapper.isDependencyTreeStatic();
    // Request-scoped providers are not scheduled by @nestjs/schedule either, and their
    // instances are made per request: their methods are bound for manual calls only.
    const instance = (
      isStatic ? wrapper.instance : (wrapper.metatype as { prototype?: unknown } | null)?.prototype
    ) as Record<string | symbol, unknown> | undefined;
    if (!instance || typeof instance !== 'object' || !Object.getPrototypeOf(instance)) {
      return undefined;
    }
    const prototype = (isStatic ? Object.getPrototypeOf(instance) : instance) as Record<
      string | symbol,
      unknown
    >;
    for (const methodKey of this.scanner.getAllMethodNames(prototype)) {
      // The prototype's function, not `instance[methodKey]`: the proxy of an instrumented app
      // (see cron-lock.bindings.ts) hands out a wrapper carrying the locked method's metadata.
      const method = prototype[methodKey];
      if (typeof method !== 'function') {
        continue;
      }
      const metadata = Reflect.getMetadata(CRON_LOCK_METADATA, method) as
        CronLockMetadata | undefined;
      if (!metadata) {
        continue;
      }
      // Not `method`, which may be another decorator's wrapper carrying a copy of the metadata:
      // the scheduler's mount check and every run of our own go through the locked function.
      const locked = metadata.locked ?? method;
      const binding = this.resolve(instance, methodKey, method, metadata, locked);
      const previous = this.claims.get(binding.job.name);
      const owner = instance.constructor as { name: string };
      if (previous && (previous.owner !== owner || previous.methodKey !== methodKey)) {
        throw new CronLockConfigError(
          previous.label === binding.label && metadata.options.name === undefined
            ? CLASS_NAME_CLASH(binding.label, owner.name)
            : DUPLICATE_LOCK_NAME(binding.job.name, previous.label, binding.label),
        );
      }
      this.claims.set(binding.job.name, { owner, methodKey, label: binding.label });
      if (!isStatic || wrapper.isTransient) {
        // A copy: the driver made below belongs to the one instance the scheduler mounts.
        bindLaterInstances(wrapper, methodKey, { ...binding });
      }
      if (!isStatic) {
        continue;
      }
      if (!mounted) {
        bindInstance(instance, methodKey, binding);
        this.registry.add({ instance, methodKey, method: locked, binding });
        continue;
      }
      if (metadata.cronTime !== undefined) {
        needsScheduler ??= binding.label;
      }
      this.drive(instance, locked, binding);
      bindJob(instance, methodKey, locked, binding);
      this.registry.add({ instance, methodKey, method: locked, binding });
    }
    return needsScheduler;
  }

  /** @internal Withdraws this app's bindings that no scheduler mounted (see claimMount). */
  onModuleDestroy(): void {
    removeNameCheck(this.names.check);
    removeLateBinder(this.bindLate);
    withdrawMounts(this.runner, this.registry.all());
  }

  /** A job with `catchUp` or an overlap policy gets the driver of its missed and queued runs. */
  private drive(instance: object, method: object, binding: JobBinding): void {
    binding.driver = driverFor(instance, method, binding, this.moduleRef, {
      runner: this.runner,
      store: this.store,
      isShuttingDown: () => this.tracker.isShuttingDown,
      warn: (message) => this.observer.warn(message),
    });
  }

  private resolve(
    instance: object,
    methodKey: string | symbol,
    method: object,
    metadata: CronLockMetadata,
    locked: object,
  ): JobBinding {
    const className = instance.constructor.name;
    const label = `${className}.${String(methodKey)}`;
    const options = metadata.options;
    checkLockOrder(label, metadata, method);
    checkLockOptions(label, options, metadata.cronTime === undefined ? 'CronLock' : 'LockedCron');

    if (options.name !== undefined && typeof options.name !== 'string') {
      throw new CronLockConfigError(INVALID_OPTION(label, 'name', 'a string', options.name));
    }
    // Spaces are legal in a @Cron name: the lock name (a Redis key) has `_` for each of them.
    const name = options.name === undefined ? label : options.name.replace(/ /g, '_');
    if (!LOCK_NAME_PATTERN.test(name)) {
      throw new CronLockConfigError(REFUSED_JOB_NAME(label, options.name));
    }
    for (const flag of ['renew', 'disabled'] as const) {
      if (options[flag] !== undefined && typeof options[flag] !== 'boolean') {
        throw new CronLockConfigError(INVALID_OPTION(label, flag, 'true or false', options[flag]));
      }
    }

    const settings = resolveLockSettings(label, options, this.options.defaultTtl);

    // `@CronLock` under a hand-written `@Cron(date)` is as much a one-shot as `@LockedCron(date)`.
    const oneShotAt = oneShotOf(label, metadata.cronTime ?? readCronOptions(method)?.cronTime);
    if (oneShotAt !== undefined && metadata.cronTime !== undefined) {
      // `@LockedCron(date)`'s own options; a hand-written `@Cron(date)` keeps its own checks.
      checkZoneOptions(label, options.timeZone, options.utcOffset);
      checkOneShotDate(label, oneShotAt, options);
    }
    const { schedule, cronTime } =
      oneShotAt === undefined ? this.scheduleOf(label, method, metadata) : {};
    const period = schedule ? periodAfter(schedule, Date.now(), cronTime) : 0;
    const policy =
      metadata.cronTime === undefined
        ? undefined
        : resolveOccurrencePolicy(
            label,
            options,
            cronTime && period > 0 ? period : undefined,
            cronTime && ((window) => shortestPeriodAfter(cronTime, Date.now(), window)),
          );
    const range = cronTime ? new OccurrenceRange(cronTime) : undefined;
    const occurrences = cronTime ? new CronOccurrences(cronTime) : undefined;
    // A catch-up job's marker must outlive its window: a claim past it must still see the last tick.
    const markerTtl = Math.max(2 * period, policy?.catchUp ? policy.catchUpWindow : 0);
    return {
      label,
      schedule,
      cronTime,
      occurrences,
      ...(oneShotAt === undefined ? {} : { oneShotAt }),
      // @LockedCron marks its ticks (see interop/nestjs-schedule.ts); @CronLock cannot tell.
      tellsManualCalls: metadata.cronTime !== undefined,
      locked,
      runner: this.runner,
      ...(policy ? { policy } : {}),
      ...(range ? { range } : {}),
      ...(options.disabled === true ? { disabled: true } : {}),
      ...(typeof options.initialDelay === 'number' && options.initialDelay > 0
        ? { initialDelay: options.initialDelay }
        : {}),
      job: {
        name,
        label,
        ...settings,
        ...(period > 0 ? { periodMs: period, markerTtl } : {}),
        ...(policy && policy.overlap !== 'skip' ? { overlap: policy.overlap } : {}),
        ...(range ? { missedBetween: missedBetweenOf(range, occurrences) } : {}),
      },
    };
  }

  /** Where this method's occurrences come from: our own cron, `@Cron`, `@Interval`, or none. */
  private scheduleOf(
    label: string,
    method: object,
    metadata: CronLockMetadata,
  ): { schedule?: OccurrenceSchedule; cronTime?: CronTime } {
    if (typeof metadata.cronTime === 'string') {
      const { timeZone, utcOffset } = metadata.options;
      return this.parseCron(label, metadata.cronTime, timeZone, utcOffset);
    }
    const cron = readCronOptions(method) as
      { cronTime?: unknown; timeZone?: string; utcOffset?: number } | undefined;
    if (cron && typeof cron.cronTime === 'string') {
      return this.parseCron(label, cron.cronTime, cron.timeZone, cron.utcOffset);
    }
    const interval = readIntervalOptions(method) as { timeout?: number } | undefined;
    if (interval && typeof interval.timeout === 'number' && interval.timeout > 0) {
      return { schedule: { kind: 'interval', every: interval.timeout } };
    }
    return {};
  }

  private parseCron(
    label: string,
    cronTime: string,
    timeZone: string | undefined,
    utcOffset: number | undefined,
  ): { schedule: OccurrenceSchedule; cronTime: CronTime } {
    if (typeof cronTime !== 'string') {
      throw new CronLockConfigError(INVALID_CRON(label, cronTime, 'not a string'));
    }
    checkZoneOptions(label, timeZone, utcOffset);
    let parsed: CronTime;
    try {
      parsed = createCronTime(cronTime, timeZone, utcOffset);
      // Also proves the expression has a future occurrence (e.g. not '0 0 31 2 *').
      parsed.sendAt();
    } catch (error) {
      const thrown = describeThrown(error);
      const reason = thrown.isError ? thrown.message.split('\n')[0].trim() : thrown.message;
      throw new CronLockConfigError(INVALID_CRON(label, cronTime, reason));
    }
    return { schedule: { kind: 'cron', cronTime, timeZone, utcOffset }, cronTime: parsed };
  }
}
