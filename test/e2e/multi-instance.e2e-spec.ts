import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  type CronLockEvents,
  type LockContext,
} from 'nestjs-cron-lock';
import { occurrenceAt, type OccurrenceSchedule } from '../../lib/utils/occurrence.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import {
  duplicateOccurrences,
  nonIncreasingFences,
  overlappingRuns,
  recordedRun,
  type RunRecord,
} from '../support/run-log.js';

/** Runs of the per-second job, from every app of the running test. */
const everySecondRuns: RunRecord[] = [];

@Injectable()
class EverySecondJob {
  @LockedCron('* * * * * *', { ttl: '5s', name: 'multi-every-second' })
  async tick(ctx: LockContext): Promise<void> {
    everySecondRuns.push(await recordedRun(ctx));
  }
}

interface App {
  instanceId: string;
  module: TestingModule;
  locks: CronLockService;
  acquired: Array<CronLockEvents['acquired']>;
  skipped: Array<CronLockEvents['skipped']>;
}

describe('several Nest apps sharing one Redis (one process, separate clients)', () => {
  let apps: App[] = [];

  afterEach(async () => {
    await Promise.all(apps.map((app) => app.module.close()));
    apps = [];
    everySecondRuns.length = 0;
  });

  /** Boots one app with its own CronLockModule (and so its own ioredis client). */
  async function boot(instanceId: string, keyPrefix: string, withCron: boolean): Promise<App> {
    const module = await Test.createTestingModule({
      imports: [
        ...(withCron ? [ScheduleModule.forRoot()] : []),
        CronLockModule.forRoot({ redis: testRedisUrl(), keyPrefix, instanceId, logger: false }),
      ],
      providers: withCron ? [EverySecondJob] : [],
    }).compile();
    const locks = module.get(CronLockService);
    const app: App = { instanceId, module, locks, acquired: [], skipped: [] };
    locks.on('acquired', (event) => app.acquired.push(event));
    locks.on('skipped', (event) => app.skipped.push(event));
    apps.push(app);
    await module.init();
    return app;
  }

  it('runs each occurrence of a per-second job exactly once across three apps', async () => {
    const keyPrefix = uniquePrefix('multi-every-second');
    await Promise.all(['app-1', 'app-2', 'app-3'].map((id) => boot(id, keyPrefix, true)));
    const firstCounted = Math.ceil((Date.now() + 1) / 1_000) * 1_000;
    const counted = () => everySecondRuns.filter((run) => run.scheduledAt >= firstCounted);
    await waitFor(() => new Set(counted().map((run) => run.scheduledAt)).size >= 4, {
      timeout: 10_000,
      message: 'four occurrences',
    });
    const lastCounted = Math.max(...counted().map((run) => run.scheduledAt));
    await Promise.all(apps.map((app) => app.module.close()));

    for (let at = firstCounted; at <= lastCounted; at += 1_000) {
      expect(
        everySecondRuns.filter((run) => run.scheduledAt === at),
        new Date(at).toISOString(),
      ).toHaveLength(1);
      // The apps competed for it: one took the lock, the others were turned away.
      const tookIt = apps
        .flatMap((app) => app.acquired)
        .filter((e) => e.scheduledAt?.getTime() === at);
      const turnedAway = apps
        .flatMap((app) => app.skipped)
        .filter((e) => e.scheduledAt?.getTime() === at);
      expect(tookIt).toHaveLength(1);
      // (At most two: an app whose tick came a full second late would name the next occurrence.)
      expect(turnedAway.length).toBeGreaterThanOrEqual(1);
      expect(turnedAway.length).toBeLessThanOrEqual(2);
      expect(turnedAway.every((e) => e.reason === 'tick-done' || e.reason === 'held')).toBe(true);
    }
    expect(duplicateOccurrences(everySecondRuns)).toEqual([]);
    expect(nonIncreasingFences(everySecondRuns)).toEqual([]);
    expect(overlappingRuns(everySecondRuns)).toEqual([]);
  });

  describe('a 5 ms job on two apps whose clocks differ by 2 s', () => {
    const skewMs = 2_000;
    /** Each app's own clock: "behind" reads real time, "ahead" is 2 s fast. */
    const clocks = { behind: (): number => Date.now(), ahead: (): number => Date.now() + skewMs };
    type Side = keyof typeof clocks;

    /** What an instance does on a tick: derive the occurrence from its own clock, then run. */
    function tickOn(app: App, side: Side, name: string, schedule: OccurrenceSchedule) {
      const scheduledAt = occurrenceAt(schedule, clocks[side]());
      return app.locks
        .run(name, { ttl: '5s', scheduledAt }, async (ctx) => {
          await sleep(5);
          return ctx.fencingToken;
        })
        .then((result) => ({ side, scheduledAt, result }));
    }

    it('runs once when both race for the same occurrence', async () => {
      const keyPrefix = uniquePrefix('multi-skew-race');
      const behind = await boot('clock-behind', keyPrefix, false);
      const ahead = await boot('clock-ahead', keyPrefix, false);
      const everyMinute: OccurrenceSchedule = { kind: 'cron', cronTime: '* * * * *' };
      // Not within 2 s of a minute boundary, where the two clocks would name different minutes.
      await waitFor(
        () =>
          occurrenceAt(everyMinute, clocks.behind()) ===
          occurrenceAt(everyMinute, clocks.ahead() + 500),
        { timeout: 5_000, interval: 50, message: 'both clocks in one minute' },
      );

      const outcomes = await Promise.all([
        tickOn(behind, 'behind', 'skewed-race', everyMinute),
        tickOn(ahead, 'ahead', 'skewed-race', everyMinute),
      ]);

      // The clocks read 2 s apart, yet both named the same occurrence...
      expect(outcomes[0].scheduledAt).toBe(outcomes[1].scheduledAt);
      // ...and it ran on exactly one of them.
      const ran = outcomes.filter((o) => o.result.ran);
      const skipped = outcomes.filter((o) => !o.result.ran).map((o) => o.result);
      expect(ran).toHaveLength(1);
      expect(skipped).toEqual([{ ran: false, reason: 'tick-done' }]);
    });

    it('runs once when the slow clock ticks 2 s after the fast one, and again next period', async () => {
      const keyPrefix = uniquePrefix('multi-skew-late');
      const behind = await boot('clock-behind', keyPrefix, false);
      const ahead = await boot('clock-ahead', keyPrefix, false);

      // Every 5 s (more than twice the skew), phased so the next occurrence is 2.3–3.3 s away.
      const target = Math.ceil((Date.now() + skewMs + 300) / 1_000) * 1_000;
      const phase = (target / 1_000) % 5;
      const every5s: OccurrenceSchedule = { kind: 'cron', cronTime: `${phase}/5 * * * * *` };
      const period = 5_000;

      /** Waits until `side`'s own clock reaches `at`, as its scheduler would, then ticks. */
      const tickWhenClockReads = async (app: App, side: Side, at: number) => {
        // A scheduler fires a hair after its clock reaches the time, never before.
        await sleep(Math.max(0, at - clocks[side]()) + 10);
        return tickOn(app, side, 'skewed-late', every5s);
      };

      // The fast clock reaches the occurrence 2 s (real time) before the slow one.
      const first = await tickWhenClockReads(ahead, 'ahead', target);
      const late = await tickWhenClockReads(behind, 'behind', target);
      expect(first.scheduledAt).toBe(target);
      expect(late.scheduledAt).toBe(target);
      expect(first.result.ran).toBe(true);
      expect(late.result).toEqual({ ran: false, reason: 'tick-done' });

      // The next occurrence is a new one: it runs again, with a greater fencing token.
      const next = await tickWhenClockReads(ahead, 'ahead', target + period);
      expect(next.scheduledAt).toBe(target + period);
      expect(next.result.ran).toBe(true);
      if (first.result.ran && next.result.ran) {
        expect(next.result.value).toBeGreaterThan(first.result.value);
      }
    });
  });

  it('runs an occurrence once when 16 callers across 4 apps race for it (thundering herd)', async () => {
    const keyPrefix = uniquePrefix('multi-herd');
    const herdApps = await Promise.all(
      ['herd-1', 'herd-2', 'herd-3', 'herd-4'].map((id) => boot(id, keyPrefix, false)),
    );
    const scheduledAt = occurrenceAt({ kind: 'cron', cronTime: '* * * * *' }, Date.now());
    let running = 0;
    let maxRunning = 0;

    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        herdApps[i % 4].locks.run('herd', { ttl: '5s', scheduledAt }, async (ctx) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await sleep(50);
          running--;
          return ctx.instanceId;
        }),
      ),
    );

    const ran = results.filter((result) => result.ran);
    expect(ran).toHaveLength(1);
    expect(maxRunning).toBe(1);
    expect(results.filter((result) => !result.ran)).toEqual(
      Array.from({ length: 15 }, () => ({ ran: false, reason: 'tick-done' })),
    );
    const state = await herdApps[0].locks.inspect('herd');
    expect(state.lastTick?.getTime()).toBe(scheduledAt);
    expect(state.holder).toBeNull();
    if (ran[0]?.ran) {
      expect(state.fencingToken).toBe(ran[0].ctx.fencingToken);
    }
  });
});
