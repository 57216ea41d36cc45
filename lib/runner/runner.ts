import { Inject, Injectable } from '@nestjs/common';
import { AlertMonitor } from '../observer/alert-monitor.js';
import { CRON_LOCK_OPTIONS, CRON_LOCK_STORE } from '../cron-lock.constants.js';
import { enableRunScopes, RunScope } from './run-scope.js';
import {
  LockLostError,
  ScheduledAtRefusedError,
  ShutdownTimeoutError,
} from '../cron-lock.errors.js';
import { CronLockEventBus, type SkipReason } from '../observer/events.js';
import { CronLockLogger } from '../observer/logger.js';
import { LOCK_LOST, SHUTDOWN_TIMEOUT } from '../cron-lock.messages.js';
import type { ResolvedCronLockOptions } from '../options/module-options.js';
import { LockRenewer, type LossReason } from './renewer.js';
import { RunContext } from './run-context.js';
import type { LockContext } from './lock-context.interface.js';
import type { AcquireResult, LockStore, RunOutcome } from '../stores/lock-store.interface.js';
import { describeStoreError } from '../utils/redact.js';
import { parseDuration } from '../utils/duration.js';
import { LazyAbortController } from '../utils/lazy-abort.js';
import { createOwnerToken, tokenTag } from '../utils/token.js';
import { acquireNow } from '../stores/capabilities.js';

/**
 * How long shutdown waits, at most, for the store to answer the commands in flight before it
 * closes the client: acquisitions (whose lock must be freed) and releases. A module-made Redis
 * client fails a command after its 2 s `commandTimeout`, so an acquisition and the release that
 * follows it are settled well within this; the bound only matters for a store that never answers.
 */
const STORE_SETTLE_LIMIT_MS = 5_000;

/** A job as the interceptor runs it: validated lock settings. */
export interface LockJob {
  /** The lock name. */
  name: string;
  /** Lock ttl in ms. */
  ttl: number;
  /** Renew while running. */
  renew: boolean;
  /** Keep the lock at least this long after acquisition, in ms. */
  minHold: number;
  /** How long the occurrence marker must outlive a run, in ms (twice the period). */
  markerTtl?: number;
  /**
   * Time between two occurrences, in ms (from the cron expression or interval); absent for
   * jobs without a schedule. Enables the `missed-success` alert.
   */
  periodMs?: number;
}

/**
 * The result of a locked run.
 *
 * @publicApi
 */
export type LockedRunResult<T> =
  { ran: true; value: T; ctx: LockContext } | { ran: false; reason: SkipReason };

interface ActiveRun {
  job: LockJob;
  /** Resolved once the run ended and its lock was released; made only when shutdown asks. */
  settled?: Promise<void>;
  /** Resolves `settled`; set with it. */
  settle?: () => void;
  /** The run ended and its lock was released. */
  done: boolean;
  controller: LazyAbortController;
  renewer: LockRenewer | null;
  abandoned: boolean;
  /** Renewal found the lock gone: the run goes on, but no longer holds it. */
  lost: boolean;
}

/**
 * The lock around every run: acquire (one round trip that claims the occurrence and takes the
 * lock), renew while the job runs, release with an owner check in `finally`. Also the one place
 * that counts running jobs, so shutdown can wait for them.
 */
@Injectable()
export class LockInterceptor {
  /** Typed events of every step; exposed by {@link CronLockService}. */
  readonly events: CronLockEventBus;
  private readonly log: CronLockLogger;
  private readonly alerts: AlertMonitor;
  private readonly active = new Set<ActiveRun>();
  /** Acquisitions sent but not answered yet: each may become a run that shutdown must wait for. */
  private readonly acquiring = new Set<Promise<unknown>>();
  private shuttingDown = false;
  /**
   * Shutdown stopped waiting for runs: an acquisition answered from now on is released at once
   * and its job never started (it would run after `app.close()` gave up on it).
   */
  private drained = false;
  private storeClosed = false;
  /** Releases sent and not answered yet: the client must not close under them. */
  private releasesInFlight = 0;
  /** Called when the last release in flight is answered, while shutdown waits for that. */
  private releasesIdle: (() => void) | null = null;

  constructor(
    @Inject(CRON_LOCK_OPTIONS) private readonly options: ResolvedCronLockOptions,
    @Inject(CRON_LOCK_STORE) private readonly store: LockStore,
  ) {
    this.log = new CronLockLogger(options.logger, options.logLevels);
    this.events = new CronLockEventBus((event, error) =>
      this.log.listenerFailed(event, error instanceof Error ? error.message : String(error)),
    );
    if (options.asyncContext) {
      enableRunScopes();
    }
    this.alerts = new AlertMonitor(
      options.alerts,
      (alert) => {
        this.log.alert(alert.message);
        this.events.emit('alert', alert);
      },
      options.instanceId,
    );
  }

  get instanceId(): string {
    return this.options.instanceId;
  }

  /** Number of runs in progress on this instance. */
  get running(): number {
    return this.active.size;
  }

  /** Names of the jobs running on this instance now. */
  runningNames(): string[] {
    return [...this.active].map((run) => run.job.name);
  }

  /**
   * Names of the jobs whose lock this instance holds now: running under a lock that was not
   * lost, and not abandoned by shutdown (unlocked runs under `onStoreError: 'run'` hold none).
   */
  heldLockNames(): string[] {
    return [...this.active]
      .filter((run) => run.renewer !== null && !run.lost && !run.abandoned)
      .map((run) => run.job.name);
  }

  /**
   * Runs `fn` under the job's lock if this instance wins occurrence `scheduledAt` (ms since
   * epoch; omit for a plain mutual exclusion). Resolves with `ran: false` and the reason when
   * it does not run; rejects with what `fn` throws.
   *
   * `via` says who calls: a scheduler tick of a decorated method (`'tick'`) or application code
   * calling one (`'method'`) reach `fn` synchronously when the store can answer at once (the
   * in-memory store), as `@Cron` calls its method; `'api'` (CronLockService, runLockedJob) always
   * answers asynchronously.
   */
  execute<T>(
    job: LockJob,
    scheduledAt: number | undefined,
    fn: (ctx: LockContext) => Promise<T> | T,
    via: 'tick' | 'method' | 'api' = 'api',
  ): Promise<LockedRunResult<T>> {
    // Not `async`, and the losers of an occurrence never enter an async function: when 1,000
    // jobs share a schedule, most attempts end in a skip, and every promise layer they hold
    // while waiting for Redis is work for the garbage collector (see README, Performance).
    if (this.shuttingDown) {
      return Promise.resolve(this.skip(job, scheduledAt, 'shutting-down'));
    }
    const token = createOwnerToken();
    const sentAt = performance.now();
    const acquireRequest = {
      name: job.name,
      token,
      ttl: job.ttl,
      scheduledAt,
      markerTtl: job.markerTtl,
      instanceId: this.instanceId,
    };
    let answer: AcquireResult | Promise<AcquireResult>;
    try {
      answer =
        (via === 'api' ? undefined : acquireNow(this.store, acquireRequest, via === 'tick')) ??
        this.store.acquire(acquireRequest);
    } catch (error) {
      // A custom store that throws instead of rejecting.
      answer = Promise.reject(error);
    }
    if (!('then' in answer)) {
      return Promise.resolve(this.acquired(job, scheduledAt, fn, token, sentAt, answer));
    }
    const request = answer;
    this.acquiring.add(request);
    return request.then(
      (acquired) => {
        this.acquiring.delete(request);
        return this.acquired(job, scheduledAt, fn, token, sentAt, acquired);
      },
      (error: unknown) => {
        this.acquiring.delete(request);
        const occurrence = occurrenceDate(scheduledAt);
        this.storeFailed(job, occurrence, 'acquire', error);
        this.alerts.acquireFailed(job, occurrence, describeStoreError(error));
        // The command may have run even though its reply was lost: free what it may have taken,
        // so the lock does not sit there with nobody running under it until the ttl ends.
        void this.releaseUnused(job, token, occurrence, false);
        // A refused occurrence is the store's answer, not its absence: running it unlocked
        // would run it on every instance whose clock is as wrong.
        if (
          this.options.onStoreError === 'run' &&
          !this.drained &&
          !(error instanceof ScheduledAtRefusedError)
        ) {
          this.log.runningUnlocked(job.name, occurrence);
          return this.runUnlocked(job, occurrence, fn);
        }
        return this.skip(job, scheduledAt, 'store-error');
      },
    );
  }

  /** The store answered an acquisition: skip, or run under the lock. */
  private acquired<T>(
    job: LockJob,
    scheduledAt: number | undefined,
    fn: (ctx: LockContext) => Promise<T> | T,
    token: string,
    sentAt: number,
    acquired: AcquireResult,
  ): LockedRunResult<T> | Promise<LockedRunResult<T>> {
    // Measured before anything else runs (alert listeners included): the store's round trip.
    const acquireMs = performance.now() - sentAt;
    this.alerts.answered(job, scheduledAt, acquired);
    if (!acquired.acquired) {
      return this.skip(job, scheduledAt, acquired.reason, acquireMs);
    }
    if (this.drained) {
      void this.releaseUnused(job, token, occurrenceDate(scheduledAt), true);
      return this.skip(job, scheduledAt, 'shutting-down', acquireMs);
    }
    return this.runHeld(job, scheduledAt, fn, token, sentAt, acquired.fencingToken, acquireMs);
  }

  /**
   * Runs `fn` under the lock just acquired: renews it meanwhile, reports the run, and releases
   * it (recording the outcome) when `fn` settles. Everything before the first `await` runs in
   * the callback that saw the acquisition, so shutdown finds the run counted as soon as the
   * acquire is no longer.
   */
  private async runHeld<T>(
    job: LockJob,
    scheduledAt: number | undefined,
    fn: (ctx: LockContext) => Promise<T> | T,
    token: string,
    sentAt: number,
    fencingToken: number,
    acquireMs: number,
  ): Promise<LockedRunResult<T>> {
    const occurrence = occurrenceDate(scheduledAt);
    const base = { name: job.name, scheduledAt: occurrence, instanceId: this.instanceId };
    if (this.events.has('acquired')) {
      // tokenTag hashes: only pay for it when someone reads the event (see BENCHMARKS.md).
      this.events.emit('acquired', { ...base, fencingToken, ownerTag: tokenTag(token), acquireMs });
    }

    const controller = new LazyAbortController();
    const run = this.track(job, controller);
    const renewer = new LockRenewer(this.store, job.name, token, job.ttl, job.renew, sentAt, {
      renewed: (ttl) => {
        if (this.events.has('renewed')) {
          this.events.emit('renewed', { ...base, fencingToken, ttl });
        }
      },
      storeError: (error) => this.storeFailed(job, occurrence, 'renew', error),
      lost: (reason) => {
        run.lost = true;
        this.lockLost(job, occurrence, fencingToken, reason, controller);
      },
    });
    run.renewer = renewer;
    this.active.add(run);
    renewer.start();

    // The signal is created on first read: most jobs never read it (see LazyAbortController).
    const ctx = new RunContext(
      job.name,
      occurrence ?? new Date(),
      fencingToken,
      this.instanceId,
      controller,
      async (ttl) => {
        const next = ttl === undefined ? job.ttl : parseDuration(ttl);
        if (next === undefined || next <= 0) {
          throw new RangeError(`ctx.extend: ${JSON.stringify(ttl)} is not a positive duration`);
        }
        const result = await renewer.extend(next);
        if (!result.renewed) {
          throw new LockLostError(job.name, result.reason, LOCK_LOST(job.name, result.reason));
        }
        this.events.emit('renewed', { ...base, fencingToken, ttl: next });
      },
      occurrence === null ? 'manual' : 'schedule',
    );

    const startedAt = performance.now();
    // Recorded fleet-wide by the release (same round trip): see RunOutcome.
    let outcome: RunOutcome | undefined;
    // What assertLocked() finds in the job and in everything it awaits (AsyncLocalStorage).
    const scope = this.options.asyncContext ? new RunScope(ctx, true) : null;
    try {
      const value = await (scope ? scope.run(() => fn(ctx)) : fn(ctx));
      const durationMs = performance.now() - startedAt;
      outcome = { status: 'completed', durationMs, finishedAt: Date.now() };
      this.alerts.succeeded(job, outcome.finishedAt);
      this.log.completed(job.name, occurrence, durationMs, fencingToken, this.instanceId);
      // Payloads of the per-run events are built only when someone listens (a run's own work
      // is a few microseconds: an object spread shows; see the Performance section of README).
      if (this.events.has('completed')) {
        this.events.emit('completed', { ...base, fencingToken, durationMs });
      }
      return { ran: true, value, ctx };
    } catch (error) {
      const durationMs = performance.now() - startedAt;
      outcome = { status: 'failed', durationMs, finishedAt: Date.now() };
      this.log.failed(job.name, occurrence, durationMs, fencingToken, error);
      this.events.emit('failed', { ...base, fencingToken, durationMs, error });
      throw error;
    } finally {
      scope?.end();
      renewer.stop();
      if (!run.abandoned) {
        await this.release(job, occurrence, token, fencingToken, sentAt, outcome);
      }
      // Counted as running until its release was answered: shutdown waits for the runs it
      // counts, and a run that left the count first had its release cut off by the close.
      this.active.delete(run);
      settled(run);
    }
  }

  /** Takes no new runs from now on. */
  beginShutdown(): void {
    this.shuttingDown = true;
  }

  /**
   * Waits up to `timeout` ms for running jobs to end; then aborts the signal of those still
   * running, stops renewing their locks and leaves the locks to expire (a job that ignores
   * its signal may still be writing, so its lock is never handed over early).
   */
  async drain(timeout: number): Promise<void> {
    try {
      await this.waitForRuns(timeout);
    } finally {
      this.drained = true;
    }
  }

  /**
   * Waits (at most {@link STORE_SETTLE_LIMIT_MS}) until the store answered every acquisition
   * and release in flight, so that the client closes after them: an acquisition that answers
   * after {@link drain} gave up is then released, and no release (of a run, or of what a failed
   * acquisition may have taken) is cut off by the close.
   */
  async settleStoreWork(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STORE_SETTLE_LIMIT_MS);
    });
    // The answer callbacks run before allSettled resolves: a late acquisition has sent its
    // release (and counted it) by then.
    await Promise.race([Promise.allSettled([...this.acquiring]), timedOut]);
    if (this.releasesInFlight > 0) {
      const idle = new Promise<void>((resolve) => (this.releasesIdle = resolve));
      await Promise.race([idle, timedOut]);
      this.releasesIdle = null;
    }
    clearTimeout(timer);
  }

  private async waitForRuns(timeout: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeout);
    });
    // A tick whose acquire was in flight when shutdown began becomes a run only now: without
    // this wait it would start after app.close() resolved and, the store being closed by then,
    // leave its lock held until the ttl ends.
    await Promise.race([Promise.allSettled([...this.acquiring]), timedOut]);
    if (this.active.size === 0) {
      clearTimeout(timer);
      return;
    }
    const outcome = await Promise.race([
      Promise.all([...this.active].map(settledOf)).then(() => 'done' as const),
      timedOut,
    ]);
    clearTimeout(timer);
    if (outcome === 'done') {
      return;
    }
    for (const run of this.active) {
      run.abandoned = true;
      run.renewer?.stop();
      const message = SHUTDOWN_TIMEOUT(run.job.name, timeout);
      this.log.shutdownTimeout(message);
      run.controller.abort(new ShutdownTimeoutError(run.job.name, message));
    }
  }

  /** The store is closed: runs that end later must not try to release through it. */
  markStoreClosed(): void {
    this.storeClosed = true;
  }

  /** A run record that shutdown can wait for (see settledOf). */
  private track(job: LockJob, controller: LazyAbortController): ActiveRun {
    return { job, controller, renewer: null, abandoned: false, lost: false, done: false };
  }

  private async runUnlocked<T>(
    job: LockJob,
    occurrence: Date | null,
    fn: (ctx: LockContext) => Promise<T> | T,
  ): Promise<LockedRunResult<T>> {
    const controller = new LazyAbortController();
    const ctx = new RunContext(
      job.name,
      occurrence ?? new Date(),
      0,
      this.instanceId,
      controller,
      async () => undefined,
      occurrence === null ? 'manual' : 'schedule',
    );
    // Counted as running, so shutdown waits for (and aborts) unlocked runs like locked ones.
    const run = this.track(job, controller);
    this.active.add(run);
    const startedAt = performance.now();
    const base = { name: job.name, scheduledAt: occurrence, instanceId: this.instanceId };
    // assertLocked() refuses to run under it: this run holds no lock.
    const scope = this.options.asyncContext ? new RunScope(ctx, false) : null;
    try {
      const value = await (scope ? scope.run(() => fn(ctx)) : fn(ctx));
      const durationMs = performance.now() - startedAt;
      // Not recorded in the store (it did not answer), but a success all the same.
      this.alerts.succeeded(job, Date.now());
      this.log.completed(job.name, occurrence, durationMs, 0, this.instanceId);
      this.events.emit('completed', { ...base, fencingToken: 0, durationMs });
      return { ran: true, value, ctx };
    } catch (error) {
      const durationMs = performance.now() - startedAt;
      this.log.failed(job.name, occurrence, durationMs, null, error);
      this.events.emit('failed', { ...base, fencingToken: null, durationMs, error });
      throw error;
    } finally {
      scope?.end();
      this.active.delete(run);
      settled(run);
    }
  }

  private async release(
    job: LockJob,
    occurrence: Date | null,
    token: string,
    fencingToken: number,
    acquiredAt: number,
    outcome?: RunOutcome,
  ): Promise<void> {
    if (this.storeClosed) {
      return;
    }
    const keepFor = job.minHold > 0 ? job.minHold - (performance.now() - acquiredAt) : 0;
    this.releasesInFlight++;
    try {
      const released = await this.store.release({
        name: job.name,
        token,
        keepFor: keepFor > 0 ? keepFor : 0,
        ...(outcome ? { outcome } : {}),
      });
      if (this.events.has('released')) {
        this.events.emit('released', {
          name: job.name,
          scheduledAt: occurrence,
          instanceId: this.instanceId,
          fencingToken,
          released,
        });
      }
    } catch (error) {
      // The lock expires by itself; a failed release must not turn a good run into a failure.
      this.storeFailed(job, occurrence, 'release', error);
    } finally {
      this.releaseAnswered();
    }
  }

  /**
   * Frees, owner-checked, a lock that no run will use: taken by an acquisition that answered
   * after shutdown gave up, or possibly taken by one whose reply was lost. Never throws.
   */
  private async releaseUnused(
    job: LockJob,
    token: string,
    occurrence: Date | null,
    /** Whether a failure is worth reporting: the lock is known to be taken. */
    report: boolean,
  ): Promise<void> {
    if (this.storeClosed) {
      return;
    }
    this.releasesInFlight++;
    try {
      await this.store.release({ name: job.name, token });
    } catch (error) {
      // After a failed acquire the lock is only a guess (and the store is known to be failing).
      if (report) {
        this.storeFailed(job, occurrence, 'release', error);
      }
    } finally {
      this.releaseAnswered();
    }
  }

  private releaseAnswered(): void {
    this.releasesInFlight--;
    if (this.releasesInFlight === 0) {
      this.releasesIdle?.();
    }
  }

  private skip<T>(
    job: LockJob,
    scheduledAt: number | undefined,
    reason: SkipReason,
    acquireMs?: number,
  ): LockedRunResult<T> {
    this.log.skipped(job.name, scheduledAt, reason);
    if (this.events.has('skipped')) {
      this.events.emit('skipped', {
        name: job.name,
        scheduledAt: occurrenceDate(scheduledAt),
        instanceId: this.instanceId,
        reason,
        ...(acquireMs === undefined ? {} : { acquireMs }),
      });
    }
    return { ran: false, reason };
  }

  private storeFailed(
    job: LockJob,
    occurrence: Date | null,
    operation: 'acquire' | 'renew' | 'release',
    error: unknown,
  ): void {
    const message = describeStoreError(error);
    this.log.storeError(job.name, occurrence, operation, message, this.options.onStoreError);
    this.events.emit('store-error', {
      name: job.name,
      scheduledAt: occurrence,
      instanceId: this.instanceId,
      operation,
      message,
    });
  }

  private lockLost(
    job: LockJob,
    occurrence: Date | null,
    fencingToken: number,
    reason: LossReason,
    controller: LazyAbortController,
  ): void {
    const why =
      reason === 'taken'
        ? 'another instance holds it'
        : reason === 'expired'
          ? 'it expired'
          : 'the store did not confirm a renewal before it would expire';
    const message = LOCK_LOST(job.name, why);
    this.log.lost(job.name, occurrence, fencingToken, message);
    this.events.emit('lost', {
      name: job.name,
      scheduledAt: occurrence,
      instanceId: this.instanceId,
      fencingToken,
      reason,
    });
    controller.abort(new LockLostError(job.name, reason, message));
    this.alerts.lost(job, occurrence, fencingToken, reason);
  }
}

/**
 * The promise shutdown waits on for one run. Made on demand: most runs end without anyone
 * waiting, and a promise per run is work for the garbage collector in a tick storm.
 */
function settledOf(run: ActiveRun): Promise<void> {
  if (run.done) {
    return Promise.resolve();
  }
  run.settled ??= new Promise<void>((resolve) => (run.settle = resolve));
  return run.settled;
}

/** Marks a run ended (lock released) for whoever waits on {@link settledOf}. */
function settled(run: ActiveRun): void {
  run.done = true;
  run.settle?.();
}

/** The occurrence as events and log lines carry it; `null` for a lock without a schedule. */
function occurrenceDate(scheduledAt: number | undefined): Date | null {
  return scheduledAt === undefined ? null : new Date(scheduledAt);
}
