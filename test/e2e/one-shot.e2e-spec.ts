// One-shot jobs (`@LockedCron(date)`) on a real Redis shared by two apps: the date runs once
// across the fleet, also when a tick reaches the job before its date.
import { Injectable } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService, LockedCron, type LockContext } from 'nestjs-cron-lock';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

interface OneShotRun {
  instance: string;
  trigger: string;
  scheduledAt: number;
  ranAt: number;
}

/** What each app's lock did with a tick of the date's occurrence, once the date came. */
interface DateOutcome {
  instance: string;
  outcome: string;
}

const opened: TestingModule[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((app) => app.close()));
});

/** A job class with one one-shot method at `at`, recording every run in `runs`. */
function launchAt(at: Date, runs: OneShotRun[]) {
  @Injectable()
  class Launch {
    @LockedCron(at, { name: 'one-shot-launch', ttl: '5s' })
    async go(ctx: LockContext): Promise<void> {
      runs.push({
        instance: ctx.instanceId,
        trigger: ctx.trigger,
        scheduledAt: ctx.scheduledAt.getTime(),
        ranAt: Date.now(),
      });
    }
  }
  return Launch;
}

async function boot(
  instanceId: string,
  keyPrefix: string,
  job: new () => unknown,
  at: Date,
  outcomes: DateOutcome[],
): Promise<TestingModule> {
  const app = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({ redis: testRedisUrl(), keyPrefix, instanceId, logger: false }),
    ],
    providers: [job],
  }).compile();
  const locks = app.get(CronLockService);
  // Only what happens from the date on: the ticks of the scheduler's timer.
  const atDate = (outcome: string) => () => {
    if (Date.now() >= at.getTime()) {
      outcomes.push({ instance: instanceId, outcome });
    }
  };
  locks.on('completed', atDate('completed'));
  locks.on('failed', atDate('failed'));
  locks.on('skipped', (event) => atDate(event.reason)());
  opened.push(app);
  await app.init();
  return app;
}

describe('a one-shot @LockedCron date on two apps sharing Redis', () => {
  it('runs fireOnTick() before the date as a manual run, and still runs the date once', async () => {
    const keyPrefix = uniquePrefix('one-shot-early-tick');
    // Far enough ahead for both apps to boot and the early tick to finish on a loaded machine.
    const at = new Date(Date.now() + 6_000);
    const runs: OneShotRun[] = [];
    const outcomes: DateOutcome[] = [];
    const Launch = launchAt(at, runs);
    const first = await boot('app-1', keyPrefix, Launch, at, outcomes);
    await boot('app-2', keyPrefix, Launch, at, outcomes);

    // As an admin endpoint would ("launch now"), well before the date.
    void first.get(SchedulerRegistry).getCronJob('one-shot-launch').fireOnTick();
    await waitFor(() => runs.length >= 1, { message: 'the early tick to run' });

    // Each app's scheduler fires at the date: one runs it, the other finds it done.
    await waitFor(() => outcomes.length >= 2, {
      timeout: 15_000,
      message: "both apps' ticks at the date",
    });
    expect(runs.map(({ trigger, scheduledAt }) => ({ trigger, scheduledAt }))).toEqual([
      { trigger: 'manual', scheduledAt: expect.any(Number) as number },
      { trigger: 'schedule', scheduledAt: at.getTime() },
    ]);
    expect(runs[0]!.ranAt).toBeLessThan(at.getTime());
    expect(runs[1]!.ranAt).toBeGreaterThanOrEqual(at.getTime());
    expect(outcomes.map((entry) => entry.outcome).sort()).toEqual(['completed', 'tick-done']);
  });
});
