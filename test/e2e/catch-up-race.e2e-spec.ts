// A tick of another instance between two runs of a catch-up: `catchUp: 'all'` promises that every
// missed occurrence in the window runs once, whichever instance ticks meanwhile. Two Nest apps in
// one process share a real redis-server. Each app's store can hold back its claim of one chosen
// occurrence until the test lets it go, so the other app's tick reaches the store between two
// catch-up runs every time.
import { Injectable } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  RedisLockStore,
  type AcquireRequest,
  type AcquireResult,
  type CronLockEvents,
  type CronLockModuleOptions,
  type LockContext,
} from 'nestjs-cron-lock';
import { afterEach, describe, expect, it } from 'vitest';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

const DAY = 86_400_000;
/** Runs of the job, from every app: [instance, occurrence]. */
const runs: Array<[string, number]> = [];
/** A run that waits until the test lets it end: [instance, occurrence]. */
const gated: { at?: [string, number]; waiting: boolean; open?: () => void } = { waiting: false };

/**
 * Daily, at the UTC hour twelve hours from when the file loads: no scheduled tick fires during the
 * test, whenever it runs, only the one it fires.
 */
const HOUR = (new Date().getUTCHours() + 12) % 24;

@Injectable()
class DailyJob {
  @LockedCron(`0 ${HOUR} * * *`, {
    ttl: '10s',
    name: 'daily-all',
    catchUp: 'all',
    catchUpWindow: '7d',
    timeZone: 'UTC',
  })
  async run(ctx: LockContext): Promise<void> {
    runs.push([ctx.instanceId, ctx.scheduledAt.getTime()]);
    const [instance, at] = gated.at ?? [];
    if (instance === ctx.instanceId && at === ctx.scheduledAt.getTime()) {
      await new Promise<void>((resolve) => {
        gated.open = resolve;
        gated.waiting = true;
      });
    }
  }
}

/** A Redis store whose claim of one occurrence waits until the test lets it go. */
class HeldClaimStore extends RedisLockStore {
  heldAt: number | undefined;
  claimWaiting = false;
  private open: (() => void) | undefined;
  private readonly opened = new Promise<void>((resolve) => (this.open = resolve));

  override async acquire(request: AcquireRequest): Promise<AcquireResult> {
    if (request.scheduledAt !== undefined && request.scheduledAt === this.heldAt) {
      this.claimWaiting = true;
      await this.opened;
    }
    return super.acquire(request);
  }

  letGo(): void {
    this.open?.();
  }
}

describe("catchUp 'all' while another instance ticks (real redis-server)", () => {
  const modules: TestingModule[] = [];

  afterEach(async () => {
    gated.open?.();
    await Promise.all(modules.splice(0).map((ref) => ref.close()));
    runs.length = 0;
    Object.assign(gated, { at: undefined, waiting: false, open: undefined });
  });

  async function boot(options: CronLockModuleOptions, providers: Array<new () => unknown>) {
    const ref = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), CronLockModule.forRoot(options)],
      providers,
    }).compile();
    modules.push(ref);
    return ref;
  }

  it("runs every missed occurrence once when another app's tick comes between two catch-up runs", async () => {
    const keyPrefix = uniquePrefix('catch-up-race');
    // The job's latest occurrence: the last HOUR:00 UTC before now.
    const now = Date.now();
    const today = now - ((now - HOUR * 3_600_000) % DAY);
    const missedDays = [4, 3, 2, 1].map((days) => today - days * DAY);
    const missed: Array<CronLockEvents['missed']> = [];
    const skippedOnB: Array<CronLockEvents['skipped']> = [];

    // The fleet last ran the job five days ago (as its last run left the store).
    const control = await boot(
      { redis: testRedisUrl(), keyPrefix, instanceId: 'control', logger: false },
      [],
    );
    await control.init();
    await control.get(CronLockService).run('daily-all', { scheduledAt: today - 5 * DAY }, () => 0);

    // App A starts and catches up, oldest first; its second catch-up run waits, holding the
    // lock, and its claim of the third one will wait too.
    gated.at = ['a', missedDays[1]];
    const storeA = new HeldClaimStore(testRedisUrl(), { keyPrefix, logger: false });
    storeA.heldAt = missedDays[2];
    const a = await boot({ store: storeA, instanceId: 'a', logger: false }, [DailyJob]);
    a.get(CronLockService).on('missed', (event) => missed.push(event));
    await a.init();
    await waitFor(() => gated.waiting, { timeout: 10_000, message: "A's second catch-up run" });

    // App B starts meanwhile: its own catch-up finds the lock held (A runs), and gives up.
    const storeB = new HeldClaimStore(testRedisUrl(), { keyPrefix, logger: false });
    storeB.heldAt = today;
    const b = await boot({ store: storeB, instanceId: 'b', logger: false }, [DailyJob]);
    b.get(CronLockService).on('missed', (event) => missed.push(event));
    b.get(CronLockService).on('skipped', (event) => skippedOnB.push(event));
    await b.init();
    await waitFor(() => skippedOnB.some((event) => event.reason === 'held'), {
      timeout: 10_000,
      message: "B's catch-up refused as held",
    });

    // B's scheduler ticks today's occurrence while A's run still holds the lock; whatever B asks
    // the store for today is held back until A is between two catch-up runs.
    const tickedAt = skippedOnB.length;
    void b.get(SchedulerRegistry).getCronJob('daily-all').fireOnTick();
    await waitFor(
      () =>
        storeB.claimWaiting ||
        skippedOnB.slice(tickedAt).some((event) => event.scheduledAt?.getTime() === today),
      { timeout: 10_000, message: "B's tick to claim today's occurrence or skip it" },
    );
    gated.open?.();
    await waitFor(() => storeA.claimWaiting, { timeout: 10_000, message: "A's third claim" });
    storeB.letGo();
    await waitFor(
      () =>
        runs.some(([, at]) => at === today) ||
        skippedOnB.slice(tickedAt).some((event) => event.scheduledAt?.getTime() === today),
      { timeout: 10_000, message: "B's claim of today's occurrence answered" },
    );
    storeA.letGo();
    // Not a failure by itself: the checks below say which occurrences never ran.
    await waitFor(() => runs.length >= 5, { timeout: 10_000 }).catch(() => undefined);
    await Promise.all(modules.splice(0).map((ref) => ref.close()));

    const ran = runs.map(([, at]) => at).sort((x, y) => x - y);
    expect(ran.map((at) => new Date(at).toISOString())).toEqual(
      [...missedDays, today].map((at) => new Date(at).toISOString()),
    );
    expect(missed.map((event) => event.scheduledAt.toISOString())).toEqual([]);
  }, 60_000);
});
