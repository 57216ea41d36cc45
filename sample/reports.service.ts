import { Injectable } from '@nestjs/common';
import { CronExpression } from '@nestjs/schedule';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertLocked, LockedCron, type LockContext } from 'nestjs-cron-lock';

/** How long the long job works, in steps; longer than its ttl, so the lock must be renewed. */
const LONG_JOB_STEPS = 6;
const LONG_JOB_STEP_MS = 500;

/**
 * The sample's two jobs. Every instance schedules both (exactly as with `@Cron`); the lock makes
 * each occurrence run on one instance only.
 */
@Injectable()
export class ReportsService {
  /**
   * Every second, a few milliseconds of work. The ttl only matters if the instance dies mid-run:
   * the lock would then expire after 5 s instead of blocking the job forever.
   */
  @LockedCron(CronExpression.EVERY_SECOND, { name: 'quick', ttl: '5s' })
  async refreshTotals(ctx: LockContext): Promise<number> {
    await sleep(20 + Math.random() * 80, undefined, { signal: ctx.signal });
    return this.saveTotals();
  }

  /**
   * Stands for the write a real job ends with. `assertLocked()` guarantees it runs under the
   * job's lock, whoever calls it (it throws outside a locked run, or once the lock is lost), and
   * gives it the fencing token to send along, so a downstream store can reject a stale holder.
   *
   * @returns the fencing token the write was made with.
   */
  private async saveTotals(): Promise<number> {
    const { fencingToken } = assertLocked();
    // e.g. UPDATE totals SET … , fence = $fencingToken WHERE fence < $fencingToken
    return fencingToken;
  }

  /**
   * Every 5 seconds, about 3 seconds of work under a 1.5 s lock: the module renews the lock
   * every 0.5 s (ttl/3) while the job runs. If a renewal ever failed, `ctx.signal` would abort
   * and the current step would throw, so the job stops instead of running next to a new holder.
   */
  @LockedCron(CronExpression.EVERY_5_SECONDS, { name: 'long', ttl: '1.5s' })
  async buildReport(ctx: LockContext): Promise<void> {
    for (let step = 0; step < LONG_JOB_STEPS; step++) {
      await sleep(LONG_JOB_STEP_MS, undefined, { signal: ctx.signal });
      // A real job would write here, passing ctx.fencingToken so the downstream store can
      // reject a write from a holder that lost its lock (see the README, "Fencing").
    }
  }
}
