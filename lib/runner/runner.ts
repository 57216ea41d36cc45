import { Inject, Injectable } from '@nestjs/common';
import { CRON_LOCK_OPTIONS, CRON_LOCK_STORE } from '../cron-lock.constants.js';
import { ScheduledAtRefusedError } from '../cron-lock.errors.js';
import type { SkipReason } from '../observer/events.js';
import { occurrenceDate, RunObserver } from '../observer/run-observer.js';
import { resolveExtendTtl, type LockJob } from '../options/job-options.js';
import type { ResolvedCronLockOptions } from '../options/module-options.js';
import { acquireNow } from '../stores/capabilities.js';
import type { AcquireResult, LockStore, RunOutcome } from '../stores/lock-store.interface.js';
import { afterThisTurn } from '../utils/after-this-turn.js';
import { createOwnerToken } from '../utils/token.js';
import type { LockContext } from './lock-context.interface.js';
import { extendRefusal } from './extend-refusal.js';
import { LockRenewer } from './renewer.js';
import { OrphanReleases } from './orphan-releases.js';
import { RunContext } from './run-context.js';
import { runOutcome } from './run-record.js';
import { enableRunScopes, openRunScope } from './run-scope.js';
import { RunTracker, type ActiveRun } from './run-tracker.js';
import { settledRun, type HeldLock } from './held-lock.js';
import { acquireRequestOf, releaseRequestOf } from './store-requests.js';

export type { LockJob } from '../options/job-options.js';

/**
 * The result of a locked run; `retryIn`, with reason `queued`: ms until the holder's lock expires.
 *
 * @publicApi
 */
export type LockedRunResult<T> =
  { ran: true; value: T; ctx: LockContext } | { ran: false; reason: SkipReason; retryIn?: number };

/**
 * The lock around every run: acquire (one round trip that claims the occurrence and takes the
 * lock), renew while the job runs, release with an owner check in `finally`. What happened goes
 * to the {@link RunObserver}; what is running and in flight is counted by the {@link RunTracker}.
 */
@Injectable()
export class LockRunner {
  private readonly orphans: OrphanReleases;

  constructor(
    @Inject(CRON_LOCK_OPTIONS) private readonly options: ResolvedCronLockOptions,
    @Inject(CRON_LOCK_STORE) private readonly store: LockStore,
    private readonly observer: RunObserver,
    private readonly tracker: RunTracker,
  ) {
    this.orphans = new OrphanReleases(store, tracker);
    if (options.asyncContext) {
      enableRunScopes();
    }
  }

  get instanceId(): string {
    return this.options.instanceId;
  }

  /**
   * Runs `fn` under the job's lock if this instance wins occurrence `scheduledAt` (ms since
   * epoch; omit for a plain mutual exclusion). Resolves with `ran: false` and the reason when
   * it does not run; rejects with what `fn` throws.
   *
   * `via` says who calls: a scheduler tick of a decorated method (`'tick'`) or application code
   * calling one (`'method'`) reach `fn` synchronously when the store can answer at once (the
   * in-memory store), as `@Cron` calls its method; `'api'` (CronLockService, runLockedJob) always
   * answers asynchronously. `refusal: 'reject'` (runLockedJob, whose tests log nothing) rejects
   * with the store's {@link ScheduledAtRefusedError} instead of the silent `store-error` skip.
   */
  execute<T>(
    job: LockJob,
    scheduledAt: number | undefined,
    fn: (ctx: LockContext) => Promise<T> | T,
    via: 'tick' | 'method' | 'api' = 'api',
    refusal: 'skip' | 'reject' = 'skip',
  ): Promise<LockedRunResult<T>> {
    // Not `async`, and the losers of an occurrence never enter an async function: when many
    // jobs share a schedule, most attempts end in a skip, and every promise layer they hold
    // while waiting for the store is work for the garbage collector.
    if (this.tracker.isShuttingDown) {
      return Promise.resolve(this.skip(job, scheduledAt, 'shutting-down'));
    }
    const token = createOwnerToken();
    const sentAt = performance.now();
    const acquireRequest = acquireRequestOf(job, token, scheduledAt, this.options);
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
    this.tracker.acquireSent();
    return request.then(
      (acquired) => {
        this.tracker.acquireAnswered();
        return this.acquired(job, scheduledAt, fn, token, sentAt, acquired);
      },
      (error: unknown) => {
        this.tracker.acquireAnswered();
        const occurrence = occurrenceDate(scheduledAt);
        this.observer.acquireFailed(job, occurrence, error);
        // The command may have run even though its reply was lost, or may run later: free what it
        // may take, so the lock does not sit there with nobody running under it until the ttl ends.
        this.orphans.free(job.name, token);
        if (refusal === 'reject' && error instanceof ScheduledAtRefusedError) throw error;
        // A refused occurrence is the store's answer, not its absence: running it unlocked
        // would run it on every instance whose clock is as wrong.
        if (
          this.options.onStoreError === 'run' &&
          !this.tracker.isDrained &&
          !(error instanceof ScheduledAtRefusedError)
        ) {
          this.observer.runningUnlocked(job, occurrence);
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
    this.observer.answered(job, scheduledAt, acquired);
    if (!acquired.acquired) {
      return this.skip(job, scheduledAt, acquired.reason, acquireMs, acquired.retryIn);
    }
    if (this.tracker.isDrained) {
      void this.releaseUnused(job, token, occurrenceDate(scheduledAt));
      return this.skip(job, scheduledAt, 'shutting-down', acquireMs);
    }
    return this.runHeld(job, scheduledAt, fn, token, sentAt, acquired, acquireMs);
  }

  /**
   * Runs `fn` under the lock just acquired: renews it meanwhile, reports the run, and releases
   * it (recording the outcome) when `fn` settles. Everything before the first `await` runs in
   * the callback that saw the acquisition, so shutdown finds the run counted as soon as the
   * acquire is no longer.
   */
  private runHeld<T>(
    job: LockJob,
    scheduledAt: number | undefined,
    fn: (ctx: LockContext) => Promise<T> | T,
    token: string,
    sentAt: number,
    { fencingToken, previousTick }: { fencingToken: number; previousTick?: number | null },
    acquireMs: number,
  ): Promise<LockedRunResult<T>> {
    const occurrence = occurrenceDate(scheduledAt);
    this.observer.acquired(job, occurrence, fencingToken, token, acquireMs);

    const controller = this.observer.signalController(job, occurrence);
    const run = this.tracker.track(job, controller);
    const renewer = new LockRenewer(this.store, job.name, token, job.ttl, job.renew, sentAt, {
      renewed: (ttl) => this.observer.renewed(job, occurrence, fencingToken, ttl),
      storeError: (error) => this.observer.storeFailed(job, occurrence, 'renew', error),
      lost: (reason) => {
        run.lost = true;
        this.observer.lost(job, occurrence, fencingToken, reason, controller);
      },
      replaced: () => this.observer.replaced(job, occurrence, controller),
    });
    run.renewer = renewer;
    this.tracker.start(run);
    // The acquisition's answer is now, as far as the renewer and the run's duration go: no
    // second clock read.
    const answeredAt = sentAt + acquireMs;
    renewer.start(answeredAt);

    // The signal is created on first read: most jobs never read it (see LazyAbortController).
    const ctx = new RunContext(
      job.name,
      occurrence ?? new Date(),
      fencingToken,
      this.instanceId,
      run,
      async (ttl) => {
        const next = resolveExtendTtl(job.name, ttl, job.ttl);
        const result = await renewer.extend(next);
        if (!result.renewed) {
          throw extendRefusal(job.name, result.reason, run);
        }
        this.observer.renewed(job, occurrence, fencingToken, next, true);
      },
      job.trigger ?? (occurrence === null ? 'manual' : 'schedule'),
      renewer,
    );
    const lock: HeldLock = { token, fencingToken, sentAt, renewer, missed: undefined };
    // After the job's synchronous start: off the path from the tick to its first line. Only
    // when there can be a gap: a plain lock, or an occurrence claimed first, has none (and a
    // microtask costs more than the run's other bookkeeping). Not queueMicrotask: Jest fakes it.
    if (scheduledAt !== undefined && previousTick !== undefined && previousTick !== null) {
      afterThisTurn(() => (lock.missed = this.observer.missed(job, scheduledAt, previousTick)));
    }
    return this.runJob(job, occurrence, ctx, fn, run, lock, answeredAt);
  }

  private runUnlocked<T>(
    job: LockJob,
    occurrence: Date | null,
    fn: (ctx: LockContext) => Promise<T> | T,
  ): Promise<LockedRunResult<T>> {
    const controller = this.observer.signalController(job, occurrence);
    const run = this.tracker.track(job, controller);
    const ctx = new RunContext(
      job.name,
      occurrence ?? new Date(),
      0,
      this.instanceId,
      run,
      // No lock to extend, but the ttl is checked as under the lock: a bad one must not surface
      // only once the store is back.
      async (ttl) => void resolveExtendTtl(job.name, ttl, job.ttl),
      occurrence === null ? 'manual' : 'schedule',
    );
    // Counted as running, so shutdown waits for (and aborts) unlocked runs like locked ones.
    this.tracker.start(run);
    return this.runJob(job, occurrence, ctx, fn, run, null, performance.now());
  }

  /**
   * Runs `fn` and reports how it ended; with a lock, stops renewing and releases it, recording
   * the outcome (an unlocked run is not recorded in the store: it did not answer). `startedAt`:
   * when the run starts, on the monotonic clock (its duration is counted from there).
   */
  private async runJob<T>(
    job: LockJob,
    occurrence: Date | null,
    ctx: RunContext,
    fn: (ctx: LockContext) => Promise<T> | T,
    run: ActiveRun,
    lock: HeldLock | null,
    startedAt: number,
  ): Promise<LockedRunResult<T>> {
    // Recorded fleet-wide by the release (same round trip): see RunOutcome.
    let outcome: RunOutcome | undefined;
    // What assertLocked() finds in the job and in everything it awaits (AsyncLocalStorage);
    // it refuses to run under an unlocked run's scope.
    const scope = openRunScope(this.options.asyncContext, ctx, lock !== null);
    try {
      const value = await (scope ? scope.run(() => fn(ctx)) : fn(ctx));
      const durationMs = settledRun(lock, startedAt);
      const finishedAt = Date.now();
      // A plain lock's release records nothing (see releaseRequestOf).
      if (lock && !job.plain) {
        outcome = runOutcome('completed', durationMs, finishedAt, ctx, run, occurrence);
      }
      this.observer.completed(
        job,
        occurrence,
        lock?.fencingToken ?? 0,
        durationMs,
        finishedAt,
        lock !== null,
      );
      return { ran: true, value, ctx };
    } catch (error) {
      const durationMs = settledRun(lock, startedAt);
      if (lock && !job.plain) {
        outcome = runOutcome('failed', durationMs, Date.now(), ctx, run, occurrence, error);
      }
      this.observer.failed(job, occurrence, lock?.fencingToken ?? null, durationMs, error);
      throw error;
    } finally {
      scope?.end();
      if (lock) {
        lock.renewer.stop();
        if (!run.abandoned) {
          await this.release(job, occurrence, lock, outcome);
        }
      }
      // Counted as running until its release was answered: shutdown waits for the runs it
      // counts, and a run that left the count first had its release cut off by the close.
      this.tracker.end(run);
    }
  }

  private async release(
    job: LockJob,
    occurrence: Date | null,
    lock: HeldLock,
    outcome?: RunOutcome,
  ): Promise<void> {
    if (this.tracker.isStoreClosed) {
      return;
    }
    const keepFor = job.minHold > 0 ? job.minHold - (performance.now() - lock.sentAt) : 0;
    this.tracker.releaseSent();
    try {
      const released = await this.store.release(
        releaseRequestOf(job, lock, keepFor > 0 ? keepFor : 0, outcome, this.options),
      );
      this.observer.released(job, occurrence, lock.fencingToken, released);
    } catch (error) {
      // The lock expires by itself; a failed release must not turn a good run into a failure.
      this.observer.storeFailed(job, occurrence, 'release', error);
    } finally {
      this.tracker.releaseAnswered();
    }
  }

  /**
   * Frees, owner-checked, a lock that no run will use: taken by an acquisition that answered
   * after shutdown gave up. Never throws.
   */
  private async releaseUnused(job: LockJob, token: string, occurrence: Date | null): Promise<void> {
    if (this.tracker.isStoreClosed) {
      return;
    }
    this.tracker.releaseSent();
    try {
      await this.store.release({ name: job.name, token });
    } catch (error) {
      this.observer.storeFailed(job, occurrence, 'release', error);
    } finally {
      this.tracker.releaseAnswered();
    }
  }

  /** Skips occurrence `scheduledAt` without asking the store, reported as the store's refusal. */
  skip<T>(
    job: LockJob,
    scheduledAt: number | undefined,
    reason: SkipReason,
    acquireMs?: number,
    retryIn?: number,
  ): LockedRunResult<T> {
    this.observer.skipped(job, scheduledAt, reason, acquireMs);
    return retryIn === undefined ? { ran: false, reason } : { ran: false, reason, retryIn };
  }
}
