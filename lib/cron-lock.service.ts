import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  CRON_LOCK_OPTIONS,
  CRON_LOCK_RESOLVED_STORE,
  CRON_LOCK_STORE,
  LOCK_NAME_PATTERN,
} from './cron-lock.constants.js';
import { CronLockConfigError } from './cron-lock.errors.js';
import { shareAcrossBuilds } from './utils/build-twins.js';
import {
  checkSubscription,
  type CronLockAnyListener,
  type CronLockEventName,
  type CronLockListener,
} from './observer/events.js';
import { CronLockRegistry } from './cron-lock.registry.js';
import {
  FleetControl,
  type HistoryOptions,
  type LockInspection,
  type PauseOptions,
} from './cron-lock.fleet.js';
import { CronLockLogger } from './observer/logger.js';
import { RunObserver } from './observer/run-observer.js';
import { LockRunner, type LockJob, type LockedRunResult } from './runner/runner.js';
import { RUN_CALL, RUN_CALLBACK_NOT_FUNCTION, relabelRunError } from './runner/run-label.js';
import { RunTracker } from './runner/run-tracker.js';
import { TriggerDispatcher, type TriggerOptions } from './runner/trigger-dispatcher.js';
import type { TriggerResult } from './runner/trigger-requester.js';
import { INVALID_LOCK_NAME } from './cron-lock.messages.js';
import { checkLockOptions, resolveLockSettings } from './options/job-options.js';
import type { ResolvedCronLockOptions } from './options/module-options.js';
import type { LockContext } from './runner/lock-context.interface.js';
import type { RunOptions } from './options/run-options.interface.js';
import type { HistoryEntry, LockStore } from './stores/lock-store.interface.js';
import type { ResolvedStore } from './stores/store-factory.js';
import { scheduledAtOf } from './utils/occurrence.js';
import { announceStore } from './cron-lock.startup.js';

export type { RunOptions } from './options/run-options.interface.js';
export type { LockInspection } from './cron-lock.fleet.js';

/** Names `inspect()` reads at once: most of a PostgreSQL pool stays free for the app's locks. */
const INSPECT_READS_AT_ONCE = 4;

/**
 * The lock service, injectable anywhere: lock any code by hand with {@link run}, read the
 * state of jobs with {@link inspect}, and listen to typed events with {@link on}.
 *
 * @publicApi
 */
@Injectable()
export class CronLockService
  implements
    OnApplicationBootstrap,
    OnModuleDestroy,
    BeforeApplicationShutdown,
    OnApplicationShutdown
{
  private readonly logger: CronLockLogger;
  private readonly fleet: FleetControl;

  constructor(
    @Inject(CRON_LOCK_OPTIONS) private readonly options: ResolvedCronLockOptions,
    private readonly runner: LockRunner,
    private readonly observer: RunObserver,
    private readonly tracker: RunTracker,
    private readonly registry: CronLockRegistry,
    @Inject(CRON_LOCK_STORE) private readonly store: LockStore,
    @Inject(CRON_LOCK_RESOLVED_STORE) private readonly resolvedStore: ResolvedStore,
    private readonly triggers: TriggerDispatcher,
  ) {
    this.logger = new CronLockLogger(options.logger);
    this.fleet = new FleetControl(store, observer, this.logger, options.instanceId, tracker);
  }

  /** This instance's id, as it appears in logs, events and `inspect()`. */
  get instanceId(): string {
    return this.options.instanceId;
  }

  /**
   * Runs `fn` under the lock `name`, on this instance only if no other run holds it (and, with
   * `scheduledAt`, only if that occurrence has not run anywhere yet).
   *
   * @param options `ttl`, `renew`, `minHold`, `scheduledAt`, `record`; `undefined` for the defaults. They
   *   are checked as `@LockedCron`'s are at bootstrap (unknown keys, types, ranges).
   * @returns `{ ran: true, value, ctx }`, or `{ ran: false, reason }` with reason `held`,
   *   `tick-done`, `paused` (the name of a job paused fleet-wide, on a run that records),
   *   `store-error` or `shutting-down`; never `queued` or `merged`, which only a job's `overlap`
   *   policy answers and `run()` does not take.
   * @throws what `fn` throws (after the lock is released); rejects with
   *   {@link CronLockConfigError} for a bad name or option, without calling `fn`, and for an
   *   `fn` that is not a function, before any store call.
   */
  run<T>(
    name: string,
    options: RunOptions | undefined,
    fn: (ctx: LockContext) => Promise<T> | T,
  ): Promise<LockedRunResult<T>> {
    // Not `async` (one promise less per run): a bad argument still rejects, never throws.
    let job: LockJob;
    let scheduledAt: number | undefined;
    let record: boolean;
    try {
      // `undefined` is the defaults, as an omitted argument; null or a non-object is an error.
      const checked: RunOptions =
        options === undefined ? {} : checkLockOptions(RUN_CALL, options, 'run');
      job = this.validate(name, checked);
      // Refused before the store: the lock would claim the occurrence (and record a failure)
      // for a run that can never happen.
      if (typeof fn !== 'function') {
        throw new CronLockConfigError(RUN_CALLBACK_NOT_FUNCTION(fn));
      }
      scheduledAt = scheduledAtOf(checked.scheduledAt, RUN_CALL);
      record = checked.record === true;
    } catch (error) {
      return Promise.reject(relabelRunError(error, name));
    }
    // Only a plain exclusion takes the lean path: an occurrence or a job's name (any name, until
    // the jobs are bound) needs the record and pause check that the job's guarantees read.
    if (scheduledAt === undefined && !record && this.registry.isNoJob(name)) {
      job.plain = true;
    }
    this.registry.addManual(name);
    return this.runner.execute(job, scheduledAt, fn);
  }

  /** The lock settings of one `run()` call; throws {@link CronLockConfigError} naming the fix. */
  private validate(name: string, options: RunOptions): LockJob {
    // The registry's manual names passed this check already: skip the pattern for those.
    if (
      !this.registry.hasManual(name) &&
      (typeof name !== 'string' || !LOCK_NAME_PATTERN.test(name))
    ) {
      throw new CronLockConfigError(INVALID_LOCK_NAME(RUN_CALL, name));
    }
    const { ttl, minHold, renew } = resolveLockSettings(RUN_CALL, options, this.options.defaultTtl);
    return { name, ttl, minHold, renew };
  }

  /**
   * Runs job `name` now on one live instance that has it (this one or another), exactly once
   * across the fleet, through its lock, with `ctx.trigger === 'manual'`: a run in progress
   * answers `held`, whatever the job's `overlap` policy (it acts on scheduled occurrences).
   * The request goes out on the store's trigger channel (Redis pub/sub, PostgreSQL
   * LISTEN/NOTIFY, in-process for the memory store); the instances with the job race on a claim
   * and the winner runs it and answers. A live instance starts it within a few store round trips.
   *
   * @returns `{ ran: true, instanceId, fencingToken, scheduledAt }` once the run started (with
   *   `wait`: once it ended, with its `outcome`; `unknown` if this app closes first), or `{ ran:
   *   false, reason }`: `no-live-instance` (none took it within `timeout`, default 5s), `paused`
   *   (pass `force`), `held`, `store-error`, `shutting-down` (also if this app closes first).
   * @throws {@link CronLockConfigError} for a bad name or option, a store without triggers, or a
   *   call awaited before the jobs are bound; a {@link LockStoreError} if the store is unreachable.
   */
  trigger(name: string, options?: TriggerOptions): Promise<TriggerResult> {
    return this.triggers.trigger(name, options);
  }

  /**
   * The state of one job, read from the store. Rejects with {@link CronLockConfigError} for a name
   * no lock can have (a job's `name` with spaces: its lock name has `_` for each).
   */
  inspect(name: string): Promise<LockInspection>;
  /**
   * The state of every job this app bound and of the 1,000 names `run()` used last: a read each,
   * four at a time, so that the app's own locks still find a store connection meanwhile.
   */
  inspect(): Promise<LockInspection[]>;
  async inspect(name?: string): Promise<LockInspection | LockInspection[]> {
    if (name !== undefined) {
      return this.fleet.inspect(name);
    }
    // All at once, a thousand reads would queue on the pool ahead of the app's acquisitions.
    return this.fleet.inspectAll(this.registry.names(), INSPECT_READS_AT_ONCE);
  }

  /**
   * Pauses job `name` fleet-wide, in the lock store: until {@link resume} (or `until`), every
   * instance skips its occurrences with reason `'paused'`, logged once per occurrence across the
   * fleet. A run in progress is not interrupted. A job no instance runs yet can be paused ahead.
   *
   * @throws {@link CronLockConfigError} for a bad name, `reason` (1 to 500 characters, one line)
   *   or `until` (a `Date` or duration in the future, at most 2^31-1 ms ahead), or a store without
   *   `pause()`; rejects with {@link LockStoreError} when the store fails.
   */
  pause(name: string, options?: PauseOptions): Promise<void> {
    return this.fleet.pause(name, options);
  }

  /**
   * Ends a pause of job `name` fleet-wide: its next occurrence runs as usual. Resolves `true` if
   * the job was paused. Same errors as {@link pause}.
   */
  resume(name: string): Promise<boolean> {
    return this.fleet.resume(name);
  }

  /**
   * The last entries of job `name`'s history, newest first: its runs (with outcome, instance,
   * fencing token and redacted error) and the occurrences that were missed, skipped while paused
   * or merged. The store keeps `historySize` entries per job (module option, default 100; with
   * 0, none: the job's next run drops the entries kept before).
   *
   * @param options `limit`: 1 to 1000 entries, default 100.
   */
  history(name: string, options?: HistoryOptions): Promise<HistoryEntry<Date>[]> {
    return this.fleet.history(name, options);
  }

  /**
   * Listens to one event of every locked run of this app. Returns a function that stops
   * listening. A listener that throws is logged and does not affect the run.
   *
   * @throws {@link CronLockConfigError} for a listener that is not a function, or an event that
   *   is not one of `CronLockEvents` (the message names the closest one).
   */
  on<E extends CronLockEventName>(event: E, listener: CronLockListener<E>): () => void {
    checkSubscription('on', listener, event);
    return this.observer.events.on(event, listener);
  }

  /**
   * Stops a listener added with {@link on}.
   *
   * @throws {@link CronLockConfigError} for the same arguments as {@link on}: a misspelt event
   *   would leave the listener in place.
   */
  off<E extends CronLockEventName>(event: E, listener: CronLockListener<E>): void {
    checkSubscription('off', listener, event);
    this.observer.events.off(event, listener);
  }

  /**
   * Listens to every event, with its name (`{ event, payload }`), including events added in
   * later versions: for forwarding them all to another bus. Returns a function that stops it.
   *
   * @throws {@link CronLockConfigError} for a listener that is not a function.
   */
  onAny(listener: CronLockAnyListener): () => void {
    checkSubscription('onAny', listener);
    return this.observer.events.onAny(listener);
  }

  /**
   * Names of the jobs whose lock this instance holds right now (running, lock not lost). Read
   * in memory, no store round trip: cheap enough for a metrics scrape.
   */
  get heldLocks(): string[] {
    return this.tracker.heldLockNames();
  }

  /**
   * Names of the jobs paused fleet-wide as this instance last learned it (the answers to its own
   * ticks, refreshed at every occurrence, and its own {@link pause} / {@link resume}; its own pause
   * with `until` leaves the list at `until`), sorted.
   * Read in memory, no store round trip: for metrics and health checks. {@link inspect} asks the
   * store.
   */
  get pausedJobs(): string[] {
    return this.observer.pausedJobs.names();
  }

  /**
   * Round trip to the lock store, in ms; rejects when it is unreachable, and with a
   * {@link CronLockConfigError} naming the call once `app.close()` closed the module's store.
   */
  ping(): Promise<number> {
    return this.fleet.ping();
  }

  /** @internal Says which store is in use, once, so a per-process store is never mistaken for a shared one. */
  async onApplicationBootstrap(): Promise<void> {
    this.triggers.start();
    const { storeKind } = this.resolvedStore;
    const store = this.store;
    // The schedule of each job goes to the store, for tools that have no app code (the CLI).
    await this.fleet.registerJobs(this.registry);
    if (storeKind === 'memory') {
      // A warning even though it was chosen: the same config deployed to several instances
      // would run every occurrence on each of them.
      this.logger.warn(
        'Using the in-memory lock store (store: MemoryLockStore): locks hold within this process ' +
          'only; pass the redis option to coordinate several instances.',
      );
      this.startCatchUp();
      return;
    }
    await announceStore(store, storeKind, this.instanceId, this.logger);
    // TLS verification off, a maxmemory-policy that can evict locks: warned once, never fatal.
    await store.checkDeployment?.();
    this.startCatchUp();
  }

  /** Jobs with `catchUp` run what the fleet missed, the store contacted once; not disabled ones. */
  private startCatchUp(): void {
    for (const { binding } of this.registry.all()) {
      void binding.driver?.catchUp();
    }
  }

  /** @internal Takes no new runs once the app starts closing. */
  onModuleDestroy(): void {
    this.triggers.stop();
    this.tracker.beginShutdown();
    for (const { binding } of this.registry.all()) {
      binding.driver?.stop();
    }
  }

  /** @internal Waits for running jobs up to `shutdownTimeout`, then aborts them. */
  async beforeApplicationShutdown(): Promise<void> {
    this.tracker.beginShutdown();
    await this.tracker.drain(this.options.shutdownTimeout);
  }

  /**
   * @internal Lets the store answer what is in flight (releases, late acquisitions, which are
   * released at once), then closes the store the module created (never a client or store
   * passed in). Listeners stay until then, so the last `released` events still reach them.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.tracker.settleStoreWork();
    await this.triggers.close();
    this.observer.events.removeAll();
    if (this.resolvedStore.ownsStore) {
      this.tracker.markStoreClosed();
      await this.store.close();
    }
  }
}

shareAcrossBuilds('CronLockService', CronLockService);
