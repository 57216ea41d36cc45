import type {
  AcquireRequest,
  AcquireResult,
  HistoryEntry,
  JobSchedule,
  LockStore,
  PauseRequest,
  ReleaseRequest,
  RenewRequest,
  RenewResult,
  StoredLockState,
} from '../lock-store.interface.js';
import { MAX_SCHEDULED_AT_AHEAD_MS } from '../../cron-lock.constants.js';
import { CronLockConfigError, ScheduledAtRefusedError } from '../../cron-lock.errors.js';
import { SCHEDULED_AT_REFUSED } from '../../cron-lock.messages.js';
import { synchronousTurn } from '../capabilities.js';
import { MemoryTriggerChannel } from './trigger.js';
import { checkHistoryLimit, occurrenceEntry, releaseEntries } from '../history-entries.js';
import { nextOccurrence } from '../../utils/next-occurrence.js';
import { checkJobName, checkPauseRequest } from '../store-arguments.js';
import { describeValue } from '../../utils/describe-value.js';

import {
  emptyJobState,
  endHoldByTimer,
  mergedAlready,
  mergeInto,
  pauseInForce,
  previousTickOf,
  queueBehind,
  queuedOf,
  record,
  recordOutcome,
  recordRun,
  type MemoryJobState,
  type MemoryLock,
} from './memory-job-state.js';

/**
 * A {@link LockStore} inside one process: for tests, local development and the sample. It gives
 * the same answers as {@link RedisLockStore} (same contract suite) but cannot coordinate
 * separate processes. One instance can be shared by several Nest apps in one process.
 *
 * @publicApi
 */
export class MemoryLockStore implements LockStore {
  private readonly locks = new Map<string, MemoryLock>();
  private readonly jobs = new Map<string, MemoryJobState>();
  /** Triggers among the apps of this process that share the store. */
  readonly triggers = new MemoryTriggerChannel();
  readonly kind = 'memory';
  private readonly now: () => number;
  /** On the default clock, a `minHold` also ends by a timer (see endHoldByTimer). */
  private readonly timedHolds: boolean;

  /**
   * @param now Clock used for expiry, replaceable in tests. Defaults to a monotonic clock
   *   so that a wall-clock step never expires or revives a lock.
   * @throws {@link CronLockConfigError} when `now` is not a function (options, as the other stores
   *   take, would otherwise fail every acquire at run time).
   */
  constructor(now?: () => number) {
    this.now = now === undefined ? () => performance.now() : now;
    this.timedHolds = now === undefined;
    if (typeof this.now !== 'function') {
      throw new CronLockConfigError(
        `MemoryLockStore: the argument is a clock () => number, for tests, got ${describeValue(now)}; ` +
          'the store takes no options. Fix: new MemoryLockStore(), or pass a clock function.',
      );
    }
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    return this.acquireNow(request);
  }

  /**
   * {@link acquire}, answered synchronously: the lock runner uses it so that a tick reaches
   * the method in the timer callback that fired it, as with `@Cron`.
   *
   * With `joinSameTurn` (scheduler ticks), a tick of a later occurrence that finds the lock held
   * by a tick of the same instance acquired in the same synchronous turn shares the lock (a new
   * fencing token, the occurrence claimed) instead of being skipped as `held`. On a real event
   * loop two timer callbacks never share a turn; a fake clock advanced synchronously
   * (`vi.advanceTimersByTime(3000)`) fires several in one, where `@Cron` calls the method at
   * each, and the earlier run cannot have waited for anything yet. The lock is free again once
   * every run sharing it has released it.
   */
  acquireNow(request: AcquireRequest, options: { joinSameTurn?: boolean } = {}): AcquireResult {
    const state = this.jobs.get(request.name) ?? emptyJobState();
    const lastSuccessAt = state.lastSuccessAt;
    const { scheduledAt } = request;
    if (scheduledAt !== undefined) {
      // Same rules as the Redis acquire script (see `stores/redis/acquire.ts`), on this
      // process's wall clock.
      if (!Number.isSafeInteger(scheduledAt) || scheduledAt < 0) {
        throw refused(scheduledAt, 'invalid');
      }
      const latest = Date.now() + MAX_SCHEDULED_AT_AHEAD_MS;
      if (scheduledAt > latest) {
        throw refused(scheduledAt, 'ahead');
      }
      // Done already (claimed, or merged into a run claimed since): whether the job is paused too.
      const done =
        state.lastTick !== null && state.lastTick >= scheduledAt && state.lastTick <= latest
          ? 'tick-done'
          : mergedAlready(state, scheduledAt, request.overlap) && 'merged';
      if (done) {
        const paused = pauseInForce(state, Date.now()) !== null;
        return { acquired: false, reason: done, lastSuccessAt, ...(paused && { paused }) };
      }
    }
    if (!request.force && pauseInForce(state, Date.now())) {
      // Claimed, so that the other instances answer tick-done: one skip recorded fleet-wide.
      if (scheduledAt !== undefined) {
        // A queued occurrence this claim passes will not run: skipped while paused too.
        const passed = queuedOf(state);
        const skipped =
          passed !== null && passed < scheduledAt ? [passed, scheduledAt] : [scheduledAt];
        state.lastTick = scheduledAt;
        this.jobs.set(request.name, state);
        const finishedAt = Date.now();
        const entries = skipped.map((at) =>
          occurrenceEntry('paused', at, request.instanceId, finishedAt),
        );
        record(state, entries, request.historySize);
      }
      return { acquired: false, reason: 'paused', lastSuccessAt, paused: true };
    }
    const tickTurn =
      options.joinSameTurn && request.scheduledAt !== undefined ? synchronousTurn() : Number.NaN;
    const held = this.liveLock(request.name);
    const queued = queuedOf(state);
    if (
      !held &&
      queued !== null &&
      scheduledAt !== undefined &&
      queued < scheduledAt &&
      request.overlap !== undefined &&
      request.overlap !== 'skip'
    ) {
      // The lock is free, but an earlier occurrence is queued (its holder released and is about to
      // claim it, or its lock expired): it goes first, this one merges (see ACQUIRE_SCRIPT).
      this.jobs.set(request.name, state);
      const answer = mergeInto(state, scheduledAt, request);
      request.onQueued?.(queued);
      return { ...answer, lastSuccessAt };
    }
    if (held && !(held.tickTurn === tickTurn && held.holder === request.instanceId)) {
      if (
        scheduledAt !== undefined &&
        request.overlap !== undefined &&
        request.overlap !== 'skip'
      ) {
        this.jobs.set(request.name, state);
        const answer = queueBehind(state, scheduledAt, request.overlap, held, this.now(), request);
        const live = queuedOf(state);
        if (answer.reason === 'merged' && live !== null) {
          request.onQueued?.(live, Math.max(0, held.expiresAt - this.now()));
        }
        return { ...answer, lastSuccessAt };
      }
      return { acquired: false, reason: 'held', lastSuccessAt };
    }
    state.fencingToken += 1;
    let previousTick: number | null | undefined;
    if (scheduledAt !== undefined) {
      previousTick = previousTickOf(state, scheduledAt);
      state.lastTick = scheduledAt;
    }
    this.jobs.set(request.name, state);
    if (held) {
      held.tokens.add(request.token);
      held.expiresAt = Math.max(held.expiresAt, this.now() + request.ttl);
    } else {
      this.locks.set(request.name, {
        tokens: new Set([request.token]),
        holder: request.instanceId,
        expiresAt: this.now() + request.ttl,
        tickTurn,
      });
    }
    return {
      acquired: true,
      fencingToken: state.fencingToken,
      lastSuccessAt,
      ...(previousTick === undefined ? {} : { previousTick }),
    };
  }

  async renew(request: RenewRequest): Promise<RenewResult> {
    return this.renewNow(request);
  }

  /**
   * {@link renew}, answered synchronously: the renewer uses it so that a renewal fired by a
   * timer is booked, and the next one armed, in that same callback. Under a fake clock advanced
   * synchronously past the ttl (`vi.advanceTimersByTime(60_000)`), an answer left for a promise
   * would come only after the advance, and the run would be declared lost at its deadline.
   */
  renewNow(request: RenewRequest): RenewResult {
    const lock = this.liveLock(request.name);
    if (!lock) {
      return { renewed: false, reason: 'expired' };
    }
    if (!lock.tokens.has(request.token)) {
      return { renewed: false, reason: 'taken' };
    }
    lock.expiresAt =
      lock.tokens.size > 1
        ? Math.max(lock.expiresAt, this.now() + request.ttl)
        : this.now() + request.ttl;
    const state = this.jobs.get(request.name);
    if (state && state.replaceToken === request.token && queuedOf(state) !== null) {
      return { renewed: true, replaced: true };
    }
    return { renewed: true };
  }

  async release(request: ReleaseRequest): Promise<boolean> {
    if (request.outcome) {
      recordOutcome(this.jobState(request.name), request.outcome);
      const missed = (request as { missed?: number[] }).missed;
      const entries = releaseEntries(request.outcome, missed, Date.now());
      recordRun(this.jobState(request.name), entries, request.historySize);
    }
    const state = this.jobs.get(request.name);
    const queued = state ? queuedOf(state) : null;
    if (queued !== null) {
      request.onQueued?.(queued);
    }
    const lock = this.liveLock(request.name);
    if (!lock || !lock.tokens.has(request.token)) {
      return false;
    }
    if (lock.tokens.size > 1) {
      // Another run that joined it in the same turn (see acquireNow) still holds it.
      lock.tokens.delete(request.token);
      return true;
    }
    if (request.keepFor && request.keepFor > 0) {
      lock.expiresAt = this.now() + request.keepFor;
      if (this.timedHolds) endHoldByTimer(this.locks, request.name, lock, request.keepFor);
    } else {
      this.locks.delete(request.name);
    }
    return true;
  }

  async inspect(name: string): Promise<StoredLockState> {
    checkJobName('MemoryLockStore', 'inspect', name);
    const lock = this.liveLock(name);
    const state = this.jobs.get(name);
    const pause = pauseInForce(state, Date.now());
    const schedule = state?.schedule ?? null;
    return {
      name,
      holder: lock?.holder ?? null,
      ttlLeft: lock ? Math.max(0, Math.round(lock.expiresAt - this.now())) : null,
      lastTick: state?.lastTick ?? null,
      fencingToken: state && state.fencingToken > 0 ? state.fencingToken : null,
      lastSuccessAt: state?.lastSuccessAt ?? null,
      lastDurationMs: state?.lastDurationMs ?? null,
      consecutiveFailures: state?.consecutiveFailures ?? 0,
      lastOutcome: state?.lastOutcome ?? null,
      lastFinishedAt: state?.lastFinishedAt ?? null,
      paused: pause !== null,
      pauseReason: pause?.reason ?? null,
      pausedUntil: pause?.until ?? null,
      cron: schedule?.cron ?? null,
      timeZone: schedule?.timeZone ?? null,
      nextAt: nextOccurrence(schedule?.cron, schedule?.timeZone),
    };
  }

  async pause(name: string, pause: PauseRequest): Promise<void> {
    checkPauseRequest('MemoryLockStore', name, pause);
    this.jobState(name).pause = { reason: pause.reason, until: pause.until };
  }

  async resume(name: string): Promise<boolean> {
    checkJobName('MemoryLockStore', 'resume', name);
    const state = this.jobs.get(name);
    const wasPaused = pauseInForce(state, Date.now()) !== null;
    if (state) {
      state.pause = null;
    }
    return wasPaused;
  }

  async history(name: string, limit: number): Promise<HistoryEntry[]> {
    checkHistoryLimit('MemoryLockStore', name, limit);
    return (this.jobs.get(name)?.history ?? []).slice(0, limit);
  }

  async registerJob(name: string, schedule: JobSchedule): Promise<void> {
    checkJobName('MemoryLockStore', 'registerJob', name);
    this.jobState(name).schedule = { cron: schedule.cron, timeZone: schedule.timeZone };
  }

  async listJobs(): Promise<string[]> {
    return [...new Set([...this.jobs.keys(), ...this.locks.keys()])].sort();
  }

  /** The owner token of the job's live lock, or `null` when free (an operator's forced release). */
  async currentToken(name: string): Promise<string | null> {
    checkJobName('MemoryLockStore', 'currentToken', name);
    const lock = this.liveLock(name);
    return lock ? ([...lock.tokens][0] ?? null) : null;
  }

  async ping(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    // Nothing to free; the maps go with the instance.
  }

  /** The state of `name`, created (empty) when missing. */
  private jobState(name: string): MemoryJobState {
    let state = this.jobs.get(name);
    if (state === undefined) {
      state = emptyJobState();
      this.jobs.set(name, state);
    }
    return state;
  }

  /** The lock of `name` if it has not expired; expired entries are dropped on the way. */
  private liveLock(name: string): MemoryLock | undefined {
    const lock = this.locks.get(name);
    if (lock && lock.expiresAt <= this.now()) {
      this.locks.delete(name);
      return undefined;
    }
    return lock;
  }
}

function refused(scheduledAt: number, reason: 'invalid' | 'ahead'): ScheduledAtRefusedError {
  return new ScheduledAtRefusedError(
    reason,
    SCHEDULED_AT_REFUSED(String(scheduledAt), reason, MAX_SCHEDULED_AT_AHEAD_MS),
  );
}
