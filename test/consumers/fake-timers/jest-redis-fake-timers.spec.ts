import { Injectable, type Type } from '@nestjs/common';
import { CronExpression, ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { CronLockModule, CronLockService, LockedCron } from 'nestjs-cron-lock';
import { runLockedJob } from 'nestjs-cron-lock/testing';

const realSetTimeout = setTimeout;
const realClearTimeout = clearTimeout;
const realNow = Date.now;

/** promise, or a rejection naming what once ms of real time passed without it settling. */
async function within<T>(promise: Promise<T>, what: string, ms = 3_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = realSetTimeout(() => reject(new Error(what + ' did not settle in ' + ms + ' ms')), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    realClearTimeout(timer);
  }
}

@Injectable()
class Hourly {
  calls = 0;

  @LockedCron('0 * * * *', { name: 'hourly' })
  async run(): Promise<void> {
    this.calls += 1;
  }
}

@Injectable()
class EverySecond {
  calls = 0;

  @LockedCron(CronExpression.EVERY_SECOND, { name: 'every-second' })
  run(): void {
    this.calls += 1;
  }
}

let moduleRef: TestingModule | undefined;

/**
 * Resolves once the real clock has passed its next whole second, as it does while a slow machine
 * boots an app: the test's stand-in for that, since no event marks a second boundary.
 */
function realSecondBoundary(): Promise<void> {
  const margin = 100;
  return new Promise((resolve) => realSetTimeout(resolve, 1_000 - (realNow() % 1_000) + margin));
}

/**
 * Jest's modern fake timers, then an app of `job` on the Redis store (a key prefix of this
 * process's own), as the switching guide says for Jest: `process.nextTick` is left real, since
 * ioredis connects through it; the scheduler's timers are fake from the start. With `slowBoot`,
 * a real second passes after init(). Kept in moduleRef for afterEach.
 */
async function fakeTimersThenBoot(
  job: Type,
  keyPrefix: string,
  logger?: false,
  slowBoot = false,
): Promise<TestingModule> {
  jest.useFakeTimers({ doNotFake: ['nextTick'] });
  // Set before init(), so that afterEach closes an app whose init() failed too.
  const app = (moduleRef = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({
        redis: process.env.REDIS_URL!,
        keyPrefix: keyPrefix + process.pid,
        ...(logger === false ? { logger } : {}),
      }),
    ],
    providers: [job],
  }).compile());
  await app.init();
  if (slowBoot) await realSecondBoundary();
  return app;
}

afterEach(async () => {
  jest.useRealTimers();
  if (moduleRef) await within(moduleRef.close(), 'close()');
});

it("runs runLockedJob on the Redis store under Jest's modern fake timers, without advancing the clock", async () => {
  const app = await fakeTimersThenBoot(Hourly, 'fake-timers-');

  const first = await within(
    runLockedJob(app, 'hourly', { scheduledAt: new Date('2026-01-01T10:00:00Z') }),
    'the first runLockedJob',
  );
  const second = await within(
    runLockedJob(app, 'hourly', { scheduledAt: new Date('2026-01-01T11:00:00Z') }),
    'the second runLockedJob',
  );

  expect(first).toMatchObject({ ran: true });
  expect(second).toMatchObject({ ran: true });
  expect(app.get(Hourly).calls).toBe(2);
}, 15_000);

it.each([
  ['', false],
  [', also when a real second passes while the app boots', true],
])("runs an every-second job once per period on the Redis store under Jest's modern fake timers, advanced one period at a time%s", async (_title, slowBoot) => {
  const app = await fakeTimersThenBoot(
    EverySecond,
    'fake-timers-every-second-' + (slowBoot ? 'slow-' : ''),
    false,
    slowBoot,
  );

  // The switching guide's recipe: one period, then the run's release, before the next period.
  const locks = app.get(CronLockService);
  const released = () =>
    new Promise<void>((resolve) => {
      const off = locks.on('released', () => {
        off();
        resolve();
      });
    });
  for (let period = 1; period <= 3; period++) {
    const run = released();
    await jest.advanceTimersByTimeAsync(1_000);
    await within(run, 'the release of period ' + period);
  }

  expect(app.get(EverySecond).calls).toBe(3);
}, 15_000);
