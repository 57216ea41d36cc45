import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { CronLockModule, LockedCron } from 'nestjs-cron-lock';
import { runLockedJob } from 'nestjs-cron-lock/testing';

const realSetTimeout = setTimeout;
const realClearTimeout = clearTimeout;

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

let moduleRef: TestingModule | undefined;

afterEach(async () => {
  jest.useRealTimers();
  if (moduleRef) await within(moduleRef.close(), 'close()');
});

it("runs runLockedJob on the Redis store under Jest's modern fake timers, without advancing the clock", async () => {
  moduleRef = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({
        redis: process.env.REDIS_URL!,
        keyPrefix: 'fake-timers-' + process.pid,
      }),
    ],
    providers: [Hourly],
  }).compile();
  await moduleRef.init();
  jest.useFakeTimers();

  const first = await within(
    runLockedJob(moduleRef, 'hourly', { scheduledAt: new Date('2026-01-01T10:00:00Z') }),
    'the first runLockedJob',
  );
  const second = await within(
    runLockedJob(moduleRef, 'hourly', { scheduledAt: new Date('2026-01-01T11:00:00Z') }),
    'the second runLockedJob',
  );

  expect(first).toMatchObject({ ran: true });
  expect(second).toMatchObject({ ran: true });
  expect(moduleRef.get(Hourly).calls).toBe(2);
}, 15_000);
