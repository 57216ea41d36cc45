import { Injectable } from '@nestjs/common';
import type { LockJob } from '../options/job-options.js';
import { RunObserver } from '../observer/run-observer.js';
import { InFlight } from '../utils/in-flight.js';
import type { LazyAbortController } from '../utils/lazy-abort.js';
import type { LockRenewer } from './renewer.js';

/**
 * How long shutdown waits, at most, for the store to answer the commands in flight before it
 * closes the client: acquisitions (whose lock must be freed) and releases. A module-made Redis
 * client fails a command after its 2 s `commandTimeout`, so an acquisition and the release that
 * follows it are settled well within this; the bound only matters for a store that never answers.
 */
const STORE_SETTLE_LIMIT_MS = 5_000;

/** One run in progress, as shutdown sees it. */
export interface ActiveRun {
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
  /** The runs started before and after it, while it is counted (see RunTracker.start). */
  older: ActiveRun | null;
  newer: ActiveRun | null;
}

/**
 * The one place that counts what this instance has going on: running jobs, acquisitions and
 * releases in flight. Shutdown waits on it (drain), then lets the store answer (settle) before
 * the store closes.
 */
@Injectable()
export class RunTracker {
  /**
   * The runs in progress, oldest first, linked through the runs themselves: V8 keeps rehashing
   * the table of a `Set` that adds and deletes a new member on every run, and a lock cycle paid
   * for that more than for any other piece of its bookkeeping.
   */
  private oldest: ActiveRun | null = null;
  private newest: ActiveRun | null = null;
  private count = 0;
  /** Acquisitions sent but not answered yet: each may become a run that shutdown must wait for. */
  private readonly acquisitions = new InFlight();
  /** Releases sent and not answered yet: the client must not close under them. */
  private readonly releases = new InFlight();
  private shuttingDown = false;
  /**
   * Shutdown stopped waiting for runs: an acquisition answered from now on is released at once
   * and its job never started (it would run after `app.close()` gave up on it).
   */
  private drained = false;
  private storeClosed = false;
  /** The close let the store answer what was in flight: nothing more is sent for this app. */
  private storeSettled = false;

  constructor(private readonly observer: RunObserver) {}

  /** No new runs are taken. */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Shutdown stopped waiting for runs. */
  get isDrained(): boolean {
    return this.drained;
  }

  /** The store is closed: nothing may be sent through it. */
  get isStoreClosed(): boolean {
    return this.storeClosed;
  }

  /**
   * The app's close is past its wait for the store (see {@link settleStoreWork}): work that could
   * go on through a client passed in, which stays open, must not outlive the app.
   */
  get isStoreSettled(): boolean {
    return this.storeSettled;
  }

  /** Number of runs in progress on this instance. */
  get running(): number {
    return this.count;
  }

  /** Names of the jobs running on this instance now. */
  runningNames(): string[] {
    return this.runs().map((run) => run.job.name);
  }

  /**
   * Names of the jobs whose lock this instance holds now: running under a lock that was not
   * lost, and not abandoned by shutdown (unlocked runs under `onStoreError: 'run'` hold none).
   */
  heldLockNames(): string[] {
    return this.runs()
      .filter((run) => run.renewer !== null && !run.lost && !run.abandoned)
      .map((run) => run.job.name);
  }

  /** An acquisition was sent: shutdown waits for its answer. */
  acquireSent(): void {
    this.acquisitions.sent();
  }

  /**
   * An acquisition was answered (or failed). Called first thing in the answer's callback: a
   * waiter resumes in a later microtask, after the callback counted the run it starts or sent
   * the release it needs.
   */
  acquireAnswered(): void {
    this.acquisitions.answered();
  }

  /** A run record that shutdown can wait for (see settledOf), not yet counted. */
  track(job: LockJob, controller: LazyAbortController): ActiveRun {
    return {
      job,
      controller,
      renewer: null,
      abandoned: false,
      lost: false,
      done: false,
      older: null,
      newer: null,
    };
  }

  /** Counts `run` as running. */
  start(run: ActiveRun): void {
    if (this.isCounted(run)) {
      return;
    }
    run.older = this.newest;
    if (this.newest) {
      this.newest.newer = run;
    } else {
      this.oldest = run;
    }
    this.newest = run;
    this.count++;
  }

  /** The run ended and its lock was released. */
  end(run: ActiveRun): void {
    if (this.isCounted(run)) {
      if (run.older) {
        run.older.newer = run.newer;
      } else {
        this.oldest = run.newer;
      }
      if (run.newer) {
        run.newer.older = run.older;
      } else {
        this.newest = run.older;
      }
      run.older = run.newer = null;
      this.count--;
    }
    settled(run);
  }

  /** Whether `run` is in the list: only the oldest counted run has no older one. */
  private isCounted(run: ActiveRun): boolean {
    return run.older !== null || this.oldest === run;
  }

  /** The runs in progress, oldest first. */
  private runs(): ActiveRun[] {
    const runs: ActiveRun[] = [];
    for (let run = this.oldest; run !== null; run = run.newer) {
      runs.push(run);
    }
    return runs;
  }

  /** A release was sent: the client must not close under it. */
  releaseSent(): void {
    this.releases.sent();
  }

  /** A release was answered (or failed). */
  releaseAnswered(): void {
    this.releases.answered();
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
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STORE_SETTLE_LIMIT_MS);
    });
    // This wait resumes after the last answer's callback returned: a late acquisition has sent
    // its release (and counted it) by then.
    await Promise.race([this.acquisitions.settled(), timedOut]);
    await Promise.race([this.releases.settled(), timedOut]);
    clearTimeout(timer);
    this.storeSettled = true;
  }

  /** The store is closed: runs that end later must not try to release through it. */
  markStoreClosed(): void {
    this.storeClosed = true;
  }

  private async waitForRuns(timeout: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeout);
    });
    // A tick whose acquire was in flight when shutdown began becomes a run only now: without
    // this wait it would start after app.close() resolved and, the store being closed by then,
    // leave its lock held until the ttl ends.
    // No acquisition can start now: shutdown has begun.
    await Promise.race([this.acquisitions.settled(), timedOut]);
    if (this.count === 0) {
      clearTimeout(timer);
      return;
    }
    const outcome = await Promise.race([
      Promise.all(this.runs().map(settledOf)).then(() => 'done' as const),
      timedOut,
    ]);
    clearTimeout(timer);
    if (outcome === 'done') {
      return;
    }
    for (const run of this.runs()) {
      run.abandoned = true;
      run.renewer?.stop();
      this.observer.shutdownTimeout(run, timeout);
    }
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
