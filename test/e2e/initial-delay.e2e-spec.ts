// A job with `initialDelay` and catchUp does not run on this instance before its delay is over,
// as `@Cron` never calls the method before then: the delay is what the app asked for to get its
// resources ready. Its catch-up runs when the delay ends, as it would at bootstrap without one.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, LockedCron, MemoryLockStore, type LockContext } from 'nestjs-cron-lock';
import { storeWithMissedOccurrences } from '../support/cron-apps.js';
import { waitFor } from '../support/redis.js';

interface Run {
  job: string;
  trigger: LockContext['trigger'];
  scheduledAt: number;
  at: number;
}

const runs: Run[] = [];
const record = (job: string, ctx: LockContext): void => {
  runs.push({ job, trigger: ctx.trigger, scheduledAt: ctx.scheduledAt.getTime(), at: Date.now() });
};
const runsOf = (job: string): Run[] => runs.filter((run) => run.job === job);

/** Long enough that no test outlives it: the job never starts while the test runs. */
const LONG_DELAY = 10 * 60_000;
/** Short enough to wait for, long enough that a catch-up at bootstrap would be well before it. */
const SHORT_DELAY = 2_000;

@Injectable()
class LongDelayJobs {
  // Declared first: at bootstrap its catch-up would start before its sibling's.
  @LockedCron('* * * * *', {
    name: 'delayed-report',
    initialDelay: LONG_DELAY,
    catchUp: 'latest',
    ttl: '10s',
  })
  report(ctx: LockContext): void {
    record('delayed-report', ctx);
  }

  @LockedCron('* * * * *', { name: 'prompt-report', catchUp: 'latest', ttl: '10s' })
  sibling(ctx: LockContext): void {
    record('prompt-report', ctx);
  }
}

@Injectable()
class ShortDelayJob {
  @LockedCron('* * * * *', {
    name: 'delayed-report',
    initialDelay: SHORT_DELAY,
    catchUp: 'latest',
    ttl: '10s',
  })
  report(ctx: LockContext): void {
    record('delayed-report', ctx);
  }
}

describe('a job with initialDelay and catchUp', () => {
  const apps: TestingModule[] = [];

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    runs.length = 0;
  });

  async function boot(
    store: MemoryLockStore,
    providers: Array<new (...args: never[]) => unknown>,
  ): Promise<TestingModule> {
    const app = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), CronLockModule.forRoot({ store, logger: false })],
      providers,
    }).compile();
    apps.push(app);
    await app.init();
    return app;
  }

  it('does not catch up at bootstrap, before its delay is over', async () => {
    await boot(await storeWithMissedOccurrences(['delayed-report', 'prompt-report']), [
      LongDelayJobs,
    ]);
    // The sibling without a delay catches up at bootstrap; the delayed job's catch-up, had it
    // started there, started first on the same in-memory store and would have run by now.
    await waitFor(() => runsOf('prompt-report').length >= 1, {
      message: "the sibling's catch-up",
    });
    // A real tick at the next minute may add a run after it.
    expect(runsOf('prompt-report')[0].trigger).toBe('catch-up');
    expect(runsOf('delayed-report')).toEqual([]);
  });

  it('catches up once its delay is over', async () => {
    const store = await storeWithMissedOccurrences(['delayed-report', 'prompt-report']);
    const booted = Date.now();
    await boot(store, [ShortDelayJob]);

    await waitFor(() => runsOf('delayed-report').length >= 1, {
      timeout: SHORT_DELAY + 10_000,
      message: 'the catch-up after the delay',
    });
    // A real tick at the next minute may add a run after it.
    const [first] = runsOf('delayed-report');
    expect(first.trigger).toBe('catch-up');
    expect(first.at - booted).toBeGreaterThanOrEqual(SHORT_DELAY);
    expect(first.scheduledAt).toBeLessThanOrEqual(first.at);
  });
});
