import { Inject, Injectable } from '@nestjs/common';
import { CRON_LOCK_OPTIONS, CRON_LOCK_STORE } from '../cron-lock.constants.js';
import { LockLostError, ReplacedError, ShutdownTimeoutError } from '../cron-lock.errors.js';
import {
  LOCK_LOST,
  MISSED_OCCURRENCES,
  REPLACED,
  SHUTDOWN_TIMEOUT,
} from '../cron-lock.messages.js';
import type { ResolvedCronLockOptions } from '../options/module-options.js';
import type { LockJob } from '../options/job-options.js';
import type { AcquireResult, LockStore, LossReason } from '../stores/lock-store.interface.js';
import { LazyAbortController } from '../utils/lazy-abort.js';
import { describeStoreError } from '../utils/redact.js';
import { describeThrown } from '../utils/thrown.js';
import { tokenTag } from '../utils/token.js';
import { AlertMonitor, hasPeriod } from './alert-monitor.js';
import { CronLockEventBus, type SkipReason } from './events.js';
import { KnownPauses } from './known-pauses.js';
import { warnIfPauseLost } from './lost-pause.js';
import { CronLockLogger } from './logger.js';
import { RecentSkips } from './missed-occurrences.js';

/**
 * Where every outcome of a run goes: one method per outcome, each fanning out to the log lines,
 * the events (which the metrics and health entries listen to) and the alerts, in that order.
 * The runner says what happened; this decides who hears of it.
 */
@Injectable()
export class RunObserver {
  /** Typed events of every step; exposed by `CronLockService`. */
  readonly events: CronLockEventBus;
  private readonly log: CronLockLogger;
  private readonly alerts: AlertMonitor;
  private readonly instanceId: string;
  private readonly skips = new RecentSkips();

  constructor(
    @Inject(CRON_LOCK_OPTIONS) private readonly options: ResolvedCronLockOptions,
    @Inject(CRON_LOCK_STORE) private readonly store: LockStore,
  ) {
    this.instanceId = options.instanceId;
    this.log = new CronLockLogger(options.logger, options.logLevels);
    this.events = new CronLockEventBus((event, error) =>
      this.log.listenerFailed(event, describeThrown(error).message),
    );
    this.alerts = new AlertMonitor(
      options.alerts,
      (alert) => {
        this.log.alert(alert.message);
        this.events.emit('alert', alert);
      },
      options.instanceId,
      (message) => this.log.warn(message),
    );
  }

  /**
   * Jobs paused fleet-wide as this instance last learned it: from the answers to its own
   * acquisitions (refreshed at every occurrence) and its own pause() (with its `until`) and
   * resume() calls. Read by the metrics and the health indicator without a store round trip.
   */
  readonly pausedJobs = new KnownPauses();

  /** The store answered an acquisition (won or not). */
  answered(job: LockJob, scheduledAt: number | undefined, result: AcquireResult): void {
    if (result.paused === true || (!result.acquired && result.reason === 'paused')) {
      this.pausedJobs.answeredPaused(job.name);
    } else if ((scheduledAt !== undefined || result.acquired) && !job.plain && !job.force) {
      // A plain lock's lean path reads no pause, and a forced run takes the lock through one:
      // their answers say nothing about it, and must not clear a pause still in force.
      const noEarlierTick =
        result.acquired && scheduledAt !== undefined && result.previousTick == null;
      if (noEarlierTick && this.pausedJobs.has(job.name)) {
        // No earlier occurrence either (the built-in stores leave it out then): the job's state
        // is gone (a Redis restart without persistence, a deleted row), or it was resumed before any
        // occurrence was claimed. The store tells which, off the run's path; asked once per
        // pause, as the job is no longer known paused after it.
        void warnIfPauseLost(this.store, job.name, this.log);
      }
      this.pausedJobs.notPaused(job.name);
    }
    this.alerts.answered(job, scheduledAt, result);
  }

  /** The lock was taken for `occurrence`. */
  acquired(
    job: LockJob,
    occurrence: Date | null,
    fencingToken: number,
    token: string,
    acquireMs: number,
  ): void {
    if (this.events.has('acquired')) {
      // tokenTag hashes: only when someone reads it.
      this.events.emit('acquired', {
        name: job.name,
        scheduledAt: occurrence,
        instanceId: this.instanceId,
        fencingToken,
        ownerTag: tokenTag(token),
        acquireMs,
      });
    }
  }

  /** The run did not happen, for `reason`. */
  skipped(
    job: LockJob,
    scheduledAt: number | undefined,
    reason: SkipReason,
    acquireMs?: number,
  ): void {
    this.skips.skipped(job.name, hasPeriod(job), scheduledAt, reason);
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
  }

  /**
   * This instance claimed `scheduledAt`, the last occurrence claimed before it being
   * `previousTick`: reports the cron's occurrences in between, which ran nowhere (one log line,
   * one `missed` event each). Returns them (oldest first), or `undefined` when none were missed.
   */
  missed(
    job: LockJob,
    scheduledAt: number | undefined,
    previousTick: number | null | undefined,
  ): number[] | undefined {
    if (scheduledAt === undefined || previousTick === null || previousTick === undefined) {
      return undefined;
    }
    let found: { occurrences: number[]; more: number } | undefined;
    try {
      found = job.missedBetween?.(previousTick, scheduledAt);
    } catch {
      // The cron found no date: nothing to report rather than a failed run.
    }
    if (!found || found.occurrences.length === 0) {
      return undefined;
    }
    const reasons = found.occurrences.map(
      (at) => this.skips.reasonOf(job.name, at) ?? job.missedReason?.(at) ?? null,
    );
    const known = [...new Set(reasons.filter((reason) => reason !== null))];
    const why = known.length > 0 ? known.join(', ') : 'no instance ran them';
    this.log.warn(MISSED_OCCURRENCES(job.name, found.occurrences, found.more, why));
    found.occurrences.forEach((at, index) =>
      this.events.emit('missed', {
        name: job.name,
        scheduledAt: new Date(at),
        instanceId: this.instanceId,
        reason: reasons[index],
      }),
    );
    return found.occurrences;
  }

  /** A later occurrence (`overlap: 'replace'`) asked this run to stop: abort its signal. */
  replaced(job: LockJob, occurrence: Date | null, controller: LazyAbortController): void {
    const message = REPLACED(job.name);
    this.log.warn(message);
    controller.abort(new ReplacedError(job.name, message));
  }

  /**
   * The controller of a run's `ctx.signal`, whose listeners' errors are logged here rather than
   * ending the process (see guardSignal).
   */
  signalController(job: LockJob, occurrence: Date | null): LazyAbortController {
    return new LazyAbortController((error) => {
      const named =
        job.label === undefined || job.label === job.name
          ? job.name
          : `${job.label} (lock "${job.name}")`;
      this.log.signalListenerFailed(named, occurrence, error);
    });
  }

  /** A warning of the lock's own (e.g. catch-up capped). */
  warn(message: string): void {
    this.log.warn(message);
  }

  /** The store failed one operation. */
  storeFailed(
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

  /** An acquisition failed: a store error that also counts towards the store-failure alert. */
  acquireFailed(job: LockJob, occurrence: Date | null, error: unknown): void {
    this.storeFailed(job, occurrence, 'acquire', error);
    this.alerts.acquireFailed(job, occurrence, describeStoreError(error));
  }

  /** The store failed and `onStoreError: 'run'` runs the job without a lock. */
  runningUnlocked(job: LockJob, occurrence: Date | null): void {
    this.log.runningUnlocked(job.name, occurrence);
  }

  /**
   * The lock was renewed to `ttl`. Renewals are reported only when someone listens; `always`
   * for `ctx.extend()`, whose event has always been sent.
   */
  renewed(
    job: LockJob,
    occurrence: Date | null,
    fencingToken: number,
    ttl: number,
    always = false,
  ): void {
    if (always || this.events.has('renewed')) {
      this.events.emit('renewed', {
        name: job.name,
        scheduledAt: occurrence,
        instanceId: this.instanceId,
        fencingToken,
        ttl,
      });
    }
  }

  /**
   * The job returned. `fencingToken` is 0 for a run without a lock; `locked` says whether the
   * payload may be skipped when nobody listens (an unlocked run has always sent it).
   */
  completed(
    job: LockJob,
    occurrence: Date | null,
    fencingToken: number,
    durationMs: number,
    finishedAt: number,
    locked: boolean,
  ): void {
    this.alerts.succeeded(job, finishedAt);
    this.log.completed(job.name, occurrence, durationMs, fencingToken, this.instanceId);
    // Built only when someone listens: most runs have no listener, and an object per event is
    // then pure garbage.
    if (!locked || this.events.has('completed')) {
      this.events.emit('completed', {
        name: job.name,
        scheduledAt: occurrence,
        instanceId: this.instanceId,
        fencingToken,
        durationMs,
      });
    }
  }

  /** The job threw `error`. `fencingToken` is `null` for a run without a lock. */
  failed(
    job: LockJob,
    occurrence: Date | null,
    fencingToken: number | null,
    durationMs: number,
    error: unknown,
  ): void {
    this.log.failed(job.name, occurrence, durationMs, fencingToken, error);
    this.events.emit('failed', {
      name: job.name,
      scheduledAt: occurrence,
      instanceId: this.instanceId,
      fencingToken,
      durationMs,
      error,
    });
  }

  /** The store answered the release of a run's lock. */
  released(job: LockJob, occurrence: Date | null, fencingToken: number, released: boolean): void {
    if (this.events.has('released')) {
      this.events.emit('released', {
        name: job.name,
        scheduledAt: occurrence,
        instanceId: this.instanceId,
        fencingToken,
        released,
      });
    }
  }

  /** Renewal found the lock gone: report it, then abort the run's signal. */
  lost(
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

  /** Shutdown stopped waiting for a run: abort its signal. */
  shutdownTimeout(run: { job: LockJob; controller: LazyAbortController }, timeout: number): void {
    const message = SHUTDOWN_TIMEOUT(run.job.name, timeout);
    this.log.shutdownTimeout(message);
    run.controller.abort(new ShutdownTimeoutError(run.job.name, message));
  }
}

/** The occurrence as events and log lines carry it; `null` for a lock without a schedule. */
export function occurrenceDate(scheduledAt: number | undefined): Date | null {
  return scheduledAt === undefined ? null : new Date(scheduledAt);
}
