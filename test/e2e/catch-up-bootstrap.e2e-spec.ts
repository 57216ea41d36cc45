// Bad catchUp / catchUpWindow / overlap values fail at bootstrap, naming Class.method and the
// fix; valid ones boot and run.
import { Injectable, type ModuleMetadata, type Type } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type LockContext,
  type LockedCronOptions,
} from 'nestjs-cron-lock';

/** Never fires during a test: valid configurations are exercised by calling the method. */
const YEARLY = '0 0 1 1 *';
const HOURLY = '0 * * * *';

const booted: TestingModule[] = [];

afterEach(async () => {
  await Promise.all(booted.splice(0).map((ref) => ref.close()));
});

function appWith(providers: Type[]): ModuleMetadata {
  return {
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({ logger: false, store: new MemoryLockStore() }),
    ],
    providers,
  };
}

async function bootstrapError(metadata: ModuleMetadata): Promise<Error> {
  let ref: TestingModule | undefined;
  try {
    ref = await Test.createTestingModule(metadata).compile();
    await ref.init();
  } catch (error) {
    await ref?.close().catch(() => undefined);
    return error as Error;
  }
  await ref.close();
  throw new Error('expected the app to fail at bootstrap, but it booted');
}

function expectConfigError(error: Error, ...fragments: string[]): void {
  expect(error).toBeInstanceOf(CronLockConfigError);
  for (const fragment of fragments) {
    expect(error.message).toContain(fragment);
  }
  expect(error.message).toContain('Fix:');
}

function jobClass(cronTime: string | Date, options: LockedCronOptions) {
  @Injectable()
  class CatchUpJob {
    @LockedCron(cronTime as string, options)
    async work(ctx: LockContext): Promise<string> {
      return `ran ${ctx.name} as ${ctx.trigger}`;
    }
  }
  return CatchUpJob;
}

const rejects = async (
  cronTime: string | Date,
  options: Record<string, unknown>,
  ...fragments: string[]
): Promise<void> => {
  const error = await bootstrapError(appWith([jobClass(cronTime, options as LockedCronOptions)]));
  expectConfigError(error, 'CatchUpJob.work', ...fragments);
};

describe('bootstrap validation of catchUp, catchUpWindow and overlap', () => {
  it('rejects an unknown catchUp mode with a did-you-mean', async () => {
    await rejects(
      YEARLY,
      { catchUp: 'lastest' },
      "catchUp must be 'latest' or 'all'",
      "did you mean 'latest'",
    );
  });

  it('rejects an unknown overlap mode, naming the three', async () => {
    await rejects(
      YEARLY,
      { overlap: 'wait' },
      "overlap must be 'skip', 'queue' or 'replace'",
      '"wait"',
    );
  });

  it.each([
    ['catchUp', true],
    ['catchUp', ''],
    ['overlap', 1],
    ['overlap', ''],
  ])('rejects %s %j (a wrong type, or present but empty)', async (option, value) => {
    await rejects(YEARLY, { [option]: value }, `option ${option} must be`);
  });

  it('rejects a misspelt option key with a did-you-mean', async () => {
    await rejects(YEARLY, { catchup: 'latest' }, 'unknown option', 'did you mean catchUp?');
  });

  it('rejects a catchUpWindow shorter than one period of the schedule', async () => {
    await rejects(
      HOURLY,
      { catchUp: 'all', catchUpWindow: '30m' },
      'catchUpWindow',
      'shorter than one period',
      '3600000ms',
    );
  });

  it('rejects the default catchUpWindow (1d) for a job whose period is longer, saying so', async () => {
    await rejects(
      '0 0 * * 0',
      { catchUp: 'latest' },
      'catchUpWindow (default 1d)',
      'shorter than one period',
    );
  });

  it('rejects a catchUpWindow longer than a timer holds', async () => {
    await rejects(
      HOURLY,
      { catchUp: 'latest', catchUpWindow: '30d' },
      'catchUpWindow',
      'longer than a Node.js timer holds',
    );
  });

  it.each(['soon', '', -5, 0])('rejects the catchUpWindow %j as not a duration', async (window) => {
    await rejects(
      HOURLY,
      { catchUp: 'latest', catchUpWindow: window },
      'catchUpWindow',
      'is not a positive duration',
    );
  });

  it('rejects a catchUpWindow without catchUp', async () => {
    await rejects(HOURLY, { catchUpWindow: '6h' }, 'catchUpWindow is set but catchUp is not');
  });

  it('rejects catchUp and overlap on a one-shot job', async () => {
    const at = new Date(Date.now() + 86_400_000);
    await rejects(at, { catchUp: 'latest' }, 'catchUp needs a cron expression');
    await rejects(at, { overlap: 'queue' }, 'overlap needs a cron expression');
  });

  it('boots and runs with valid values', async () => {
    const Job = jobClass(HOURLY, { catchUp: 'all', catchUpWindow: '6h', overlap: 'queue' });
    const ref = await Test.createTestingModule(appWith([Job])).compile();
    booted.push(ref);
    await ref.init();
    const job = ref.get(Job);
    const call = job.work as unknown as (this: object) => Promise<string>;
    expect(await call.call(job)).toBe('ran CatchUpJob.work as manual');
  });

  // 2030-01-07 is a Monday. From Thursday 09:00 to Friday 09:00, the next two occurrences of a
  // weekday job are Friday's and Monday's, three days apart; on any other day, one day apart.
  it.each([7, 8, 9, 10, 11, 12, 13])(
    'boots a weekday job with the default catchUpWindow (1d) on 2030-01-%i, whatever the day',
    async (day) => {
      const Job = jobClass('0 9 * * 1-5', { catchUp: 'latest', timeZone: 'UTC' });
      const ref = await Test.createTestingModule(appWith([Job])).compile();
      booted.push(ref);
      // Only the clock is faked, at the start of the app: timers and promises stay real.
      vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2030, 0, day, 10, 0, 0) });
      try {
        await ref.init();
      } finally {
        vi.useRealTimers();
      }
      const job = ref.get(Job);
      const call = job.work as unknown as (this: object) => Promise<string>;
      expect(await call.call(job)).toBe('ran CatchUpJob.work as manual');
    },
  );

  it('CronLockService.run() takes no catchUp or overlap (they need a schedule)', async () => {
    const ref = await Test.createTestingModule(appWith([])).compile();
    booted.push(ref);
    await ref.init();
    const locks = ref.get(CronLockService);
    for (const option of ['catchUp', 'overlap']) {
      await expect(
        locks.run('job', { [option]: 'latest' } as never, async () => undefined),
      ).rejects.toThrow(new RegExp(`unknown option ${option}`));
    }
  });
});
