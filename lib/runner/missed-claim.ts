import type { LockJob } from '../options/job-options.js';
import { unrefTimer } from '../utils/unref-timer.js';
import type { LockContext } from './lock-context.interface.js';
import type { LockedRunResult, LockRunner } from './runner.js';

/** Added to a wait for a `minHold` to be over, so that the claim after it finds the lock free. */
const HOLD_MARGIN_MS = 50;

/**
 * Claims missed occurrence `at` for a catch-up and runs it. Resolves with the refusal that ends
 * the catch-up, or `null` when the occurrence is done: it ran (here, or elsewhere: `tick-done`),
 * or it was skipped because the job is paused; never rejects.
 *
 * A `held` answer under `minHold` is most likely the hold a run keeps after it ended: the
 * catch-up's own previous run, or the run whose end started this catch-up. Nothing catches up
 * after such a hold, so the claim is sent once more when `minHold` is over; held again, a run is
 * in progress, and the instance running it catches up when it ends.
 */
export async function claimMissed(
  runner: LockRunner,
  job: LockJob,
  at: number,
  fn: (ctx: LockContext) => unknown,
  hold: HoldWait,
): Promise<LockedRunResult<unknown> | null> {
  for (let retried = false; ; retried = true) {
    let result: LockedRunResult<unknown>;
    try {
      result = await runner.execute(job, at, fn, 'api');
    } catch {
      // The job threw (the runner reported it): the occurrence ran.
      return null;
    }
    // `paused` claimed the occurrence and recorded it as skipped while paused, as a tick's claim
    // does: done, and the next one is claimed (and recorded) in turn.
    if (result.ran || result.reason === 'tick-done' || result.reason === 'paused') {
      return null;
    }
    if (retried || result.reason !== 'held' || job.minHold <= 0) {
      return result;
    }
    if (!(await hold.wait(job.minHold + HOLD_MARGIN_MS))) {
      return result;
    }
  }
}

/** The wait of {@link claimMissed} for a hold to be over, which the app's close cuts short. */
export class HoldWait {
  private wake: (() => void) | undefined;
  private stopped = false;

  /** Resolves `true` after `ms`, or `false` at once or as soon as {@link stop} is called. */
  wait(ms: number): Promise<boolean> {
    if (this.stopped) {
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(!this.stopped), ms);
      // As the driver's other timers: a wait never keeps the process alive.
      unrefTimer(timer);
      this.wake = () => {
        clearTimeout(timer);
        resolve(false);
      };
    });
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
}
