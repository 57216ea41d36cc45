import { CATCH_UP_CAPPED } from '../cron-lock.messages.js';
import type { MissedReason } from '../observer/events.js';
import type { LockJob, OccurrencePolicy } from '../options/job-options.js';
import type { LockStore } from '../stores/lock-store.interface.js';
import { afterThisTurn } from '../utils/after-this-turn.js';
import type { CronOccurrences } from '../utils/occurrence.js';
import type { OccurrenceRange } from '../utils/occurrence-range.js';
import { unrefTimer } from '../utils/unref-timer.js';
import type { LockContext } from './lock-context.interface.js';
import { claimMissed, HoldWait } from './missed-claim.js';
import { SkippedTicks } from './skipped-ticks.js';
import type { LockedRunResult, LockRunner } from './runner.js';

/** Missed occurrences `catchUp: 'all'` runs at most in one go (the most recent ones). */
export const CATCH_UP_ALL_LIMIT = 100;

/** Added to a queued occurrence's retry, so that it lands after the holder's lock expired. */
const RETRY_MARGIN_MS = 50;

/** What the driver needs from its app, besides the runner. */
export interface DriverContext {
  runner: LockRunner;
  store: LockStore;
  /** Whether the app is closing: nothing new starts then. */
  isShuttingDown: () => boolean;
  warn: (message: string) => void;
  /**
   * Whether the job's CronJob was stopped at run time (`stop()`, `deleteCronJob()`): then, as
   * while dormant, nothing of the job starts here by itself until a tick of it comes again.
   */
  isStopped?: () => boolean;
}

/**
 * Runs the occurrences of one `@LockedCron` job that its ticks alone would not: missed ones
 * (`catchUp`) and queued ones (`overlap: 'queue' | 'replace'`). Every run still goes through the
 * lock with its occurrence as `scheduledAt`, so the store's occurrence marker lets each one run
 * once across the fleet, whichever instances try.
 *
 * Catch-up looks at what the store last claimed (`inspect`) when the instance starts and after the
 * store failed; after a run it knows (the occurrence it just ran). Missed occurrences are claimed
 * before the current one, oldest first: a claim moves the marker forward for good.
 *
 * A `disabled` job is dormant until its first tick (its CronJob was started): it neither catches
 * up at bootstrap nor takes over the fleet's queued occurrences, which stay for the instances
 * whose ticks queued them. Calls of the method and `trigger()` run it as any manual run. So is a
 * job with `initialDelay` until the delay is over: then it catches up, as it would at bootstrap.
 * A job whose CronJob was stopped or deleted at run time starts nothing by itself either, as
 * `@Cron` calls its method no more; after `start()` its ticks run it again.
 */
export class OccurrenceDriver {
  private readonly catchUpJob: LockJob;
  /** The catch-up in progress on this instance, if any. */
  private catchingUp: Promise<void> | null = null;
  private started = false;
  /** The store failed since the last catch-up looked: look again before the next tick. */
  private catchUpDue = false;
  /** The oldest missed occurrence the last catch-up left unclaimed, finding the lock held. */
  private heldBehind: number | undefined;
  private readonly retries = new Map<number, ReturnType<typeof setTimeout>>();
  private stopped = false;
  /** Wakes an `initialDelay` job when its delay is over (armed by the bootstrap's catch-up). */
  private delayTimer: ReturnType<typeof setTimeout> | undefined;
  /** A catch-up waiting for a run's `minHold` to be over (see claimMissed). */
  private readonly hold = new HoldWait();
  /** With `catchUp`: ticks the scheduler never fired (a freeze, a clock step) are caught up. */
  private readonly skipped: SkippedTicks | undefined;

  constructor(
    private readonly job: LockJob,
    private readonly policy: OccurrencePolicy,
    private readonly range: OccurrenceRange,
    private readonly fn: (ctx: LockContext) => unknown,
    private readonly app: DriverContext,
    /** The job's ticks, remembered (see CronOccurrences): what follows the occurrence just run. */
    private readonly occurrences?: CronOccurrences,
    /** `disabled`: nothing runs by itself before the first tick (see the class comment). */
    private dormant = false,
    /** `initialDelay` (0 for a disabled job): dormant until it is over, as the scheduler waits. */
    private readonly initialDelay = 0,
  ) {
    this.dormant ||= initialDelay > 0;
    if (policy.overlap !== 'skip') {
      // Called inside the store's reply to a release: run after it (afterThisTurn, which fake
      // timers cannot hold back). With `retryIn`, merged behind a held lock: tried when that lock
      // would expire (see retryQueued). A dormant job leaves it queued for the retry of the
      // instance that queued it, or the next tick of any enabled one.
      job.onQueued = (at, retryIn) => {
        if (!this.dormant && retryIn !== undefined) {
          this.retryQueued(at, retryIn);
        } else if (!this.dormant) {
          afterThisTurn(() => this.runQueued(at));
        }
      };
    }
    this.catchUpJob = { ...job, trigger: 'catch-up', missedReason: (at) => this.whyNotRun(at) };
    this.skipped = policy.catchUp ? new SkippedTicks(job) : undefined;
  }

  /** A scheduler tick of occurrence `scheduledAt`. */
  async tick(scheduledAt: number | undefined): Promise<LockedRunResult<unknown>> {
    // Only a started CronJob ticks: a disabled job's first tick is its start, and it catches up
    // then, as an instance does when it starts.
    this.dormant = false;
    // Sees the CronJob running, so that a later stop() is told (see isClosing).
    this.app.isStopped?.();
    const skipped = scheduledAt !== undefined && this.skipped?.before(scheduledAt) === true;
    if (this.policy.catchUp && (!this.started || this.catchUpDue || skipped)) {
      // Missed ones before this tick's occurrence, which the tick itself runs.
      void this.catchUp(undefined, scheduledAt);
    }
    // The whole catch-up, not only its first claim: a tick that claimed its occurrence between
    // two catch-up runs would move the marker past the missed ones still to run, and lose them.
    if (this.catchingUp) {
      await this.catchingUp;
    }
    // Its holder runs the missed ones left and catches up after (see after()); claimed now, while
    // that holder is between two catch-up runs, this occurrence would pass them and lose them.
    // Skipped as held, as the store would answer now: the holder's catch-up runs it in turn.
    if (scheduledAt !== undefined && (this.heldBehind ?? Infinity) < scheduledAt) {
      const held = this.app.runner.skip<unknown>(this.job, scheduledAt, 'held');
      this.after(scheduledAt, held);
      return held;
    }
    // A queued occurrence whose retry is armed here goes first: when its holder died (kill -9), it
    // waits for the lock to expire, and this tick must not take the freed lock ahead of it. Its
    // acquisition is sent first, so a store that answers in order (one Redis connection) sees it
    // first; this tick's occurrence then queues behind it. Nearly every tick has none armed, and
    // then copies and sorts nothing.
    if (scheduledAt !== undefined && this.retries.size > 0) {
      for (const at of [...this.retries.keys()].sort((a, b) => a - b)) {
        if (at < scheduledAt) {
          void this.runQueued(at);
        }
      }
    }
    const result = await this.app.runner.execute(this.job, scheduledAt, this.fn, 'tick');
    this.after(scheduledAt, result);
    return result;
  }

  /**
   * Runs the missed occurrences inside the window, per `catchUp`. `ranUpTo`: the occurrence this
   * instance just ran (the store's marker is at least that); absent, the store is asked.
   * `before`: only occurrences before this one (a tick's own). One catch-up at a time per job on
   * this instance; never rejects.
   */
  catchUp(ranUpTo?: number, before?: number): Promise<void> {
    // Called at bootstrap for every driver: sees a started CronJob before any tick of it.
    this.app.isStopped?.();
    if (this.dormant && this.initialDelay > 0 && this.delayTimer === undefined && !this.stopped) {
      // Counted from here, after the scheduler armed its own: never before the CronJob starts.
      this.delayTimer = setTimeout(() => this.dormant && void this.wake(), this.initialDelay);
      unrefTimer(this.delayTimer);
    }
    if (!this.policy.catchUp || this.stopped || this.dormant) {
      return Promise.resolve();
    }
    if (this.catchingUp) {
      return this.catchingUp;
    }
    this.started = true;
    this.catchingUp = this.catchUpFrom(ranUpTo, before)
      .catch(() => undefined)
      .finally(() => {
        this.catchingUp = null;
      });
    return this.catchingUp;
  }

  /**
   * Ends a disabled job's dormancy as its first tick would, for code that ticks the job itself
   * instead of starting its CronJob: it catches up at once, as at bootstrap, and from then on
   * as an enabled job does. Resolves when that catch-up settled.
   */
  wake(): Promise<void> {
    this.dormant = false;
    return this.catchUp();
  }

  /** The app is closing: no more retries or catch-up runs start. */
  stop(): void {
    this.stopped = true;
    this.hold.stop();
    clearTimeout(this.delayTimer);
    for (const timer of this.retries.values()) {
      clearTimeout(timer);
    }
    this.retries.clear();
  }

  private async catchUpFrom(
    ranUpTo: number | undefined,
    before: number | undefined,
  ): Promise<void> {
    this.heldBehind = undefined;
    let last: number;
    if (ranUpTo === undefined) {
      try {
        const state = await this.app.store.inspect(this.job.name);
        this.catchUpDue = false;
        // A job new to the store (or whose state expired) has missed nothing.
        if (state.lastTick === null) {
          return;
        }
        last = state.lastTick;
      } catch {
        // The store is failing: the tick says so; catch up once it answers again.
        this.catchUpDue = true;
        return;
      }
    } else {
      last = ranUpTo;
    }
    for (;;) {
      const now = before === undefined ? Date.now() : Math.min(Date.now(), before - 1);
      const candidates = this.candidates(last, now);
      if (candidates.length === 0 || this.isClosing()) {
        return;
      }
      for (const at of candidates) {
        const refused = await claimMissed(this.app.runner, this.catchUpJob, at, this.fn, this.hold);
        if (refused) {
          // Held (another instance runs, and catches up after; see after()), queued, or trouble.
          if (!refused.ran && refused.reason === 'held') {
            this.heldBehind = at;
          }
          this.after(at, refused);
          return;
        }
        last = at;
        if (this.isClosing()) {
          return;
        }
      }
    }
  }

  /**
   * Whether an occurrence after `last` is due by `now`. The answer after nearly every run: not
   * yet. Told by the ticks' own look-ahead, or one step of the cron, instead of the backward
   * search of {@link candidates} (tens of steps), which every run would otherwise pay.
   */
  private anyDue(last: number, now: number): boolean {
    if (last >= now) {
      return false;
    }
    const next = this.occurrences?.nameAfter(last) ?? this.range.nameAfter(last);
    return next !== null && next <= now;
  }

  /** Missed occurrences after `last` to run now, oldest first. */
  private candidates(last: number, now: number): number[] {
    if (!this.anyDue(last, now)) {
      return [];
    }
    const since = Math.max(last, now - this.policy.catchUpWindow - 1);
    if (this.policy.catchUp === 'latest') {
      const latest = this.range.latestDue(now);
      return latest > since ? [latest] : [];
    }
    const { occurrences, dropped } = this.range.recent(since, now, CATCH_UP_ALL_LIMIT);
    if (dropped) {
      const older = this.range.between(since, occurrences[0]);
      this.app.warn(
        CATCH_UP_CAPPED(this.job.name, CATCH_UP_ALL_LIMIT, older.occurrences.length + older.more),
      );
    }
    return occurrences;
  }

  /** Why a missed occurrence that catch-up skipped was not run. */
  private whyNotRun(at: number): MissedReason {
    return at < Date.now() - this.policy.catchUpWindow ? 'outside-window' : 'superseded';
  }

  /** What follows a run attempt of occurrence `at`. */
  private after(at: number | undefined, result: LockedRunResult<unknown>): void {
    if (at === undefined || this.isClosing()) {
      return;
    }
    if (result.ran) {
      // Nearly always nothing is due yet: told here, without starting a catch-up (an async
      // function and its promises) that would find nothing to run. The run tells what the store
      // last claimed, as a catch-up's look would.
      if (this.policy.catchUp && !this.catchingUp) {
        this.started = true;
        let due = false;
        try {
          due = this.anyDue(at, Date.now());
        } catch {
          // As a catch-up that failed: nothing runs now (a catch-up never rejects).
        }
        if (due) {
          void this.catchUp(at);
        }
      }
    } else if (result.reason === 'queued') {
      this.retryQueued(at, result.retryIn ?? this.job.ttl);
    } else if (result.reason === 'store-error' || result.reason === 'held') {
      // Held: its holder may die before it catches up (kill -9): the next tick looks again.
      this.catchUpDue = true;
    }
  }

  /**
   * Tries a queued occurrence again once the holder's lock expires, on each instance that queued
   * or merged into it: a holder killed with -9, or closing, never hands it over at its release.
   */
  private retryQueued(at: number, retryIn: number): void {
    if (this.retries.has(at)) {
      return;
    }
    const delay = Math.min(Math.max(0, retryIn), this.job.ttl) + RETRY_MARGIN_MS;
    const timer = setTimeout(() => {
      this.retries.delete(at);
      void this.runQueued(at);
    }, delay);
    unrefTimer(timer);
    this.retries.set(at, timer);
  }

  /** Claims the queued occurrence `at` (the release of the run before it found it, or a retry). */
  private async runQueued(at: number): Promise<void> {
    const timer = this.retries.get(at);
    if (timer) {
      clearTimeout(timer);
      this.retries.delete(at);
    }
    if (this.isClosing()) {
      return;
    }
    try {
      const result = await this.app.runner.execute(this.job, at, this.fn, 'api');
      this.after(at, result);
    } catch {
      // The job threw: the runner reported it.
    }
  }

  /** Whether nothing may start by itself: the app is closing, or the job's CronJob stopped. */
  private isClosing(): boolean {
    return this.stopped || this.app.isShuttingDown() || this.app.isStopped?.() === true;
  }
}
