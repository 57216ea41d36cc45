import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';

const open: TestingModule[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((ref) => ref.close()));
});

/** Boots an app with its own CronLockModule on the test Redis. */
async function bootLocks(options: CronLockModuleOptions = {}): Promise<CronLockService> {
  const ref = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({
        redis: testRedisUrl(),
        keyPrefix: uniquePrefix('occurrence'),
        logger: false,
        ...options,
      }),
    ],
  }).compile();
  open.push(ref);
  await ref.init();
  return ref.get(CronLockService);
}

describe('CronLockService.run with scheduledAt out of bounds', () => {
  it.each([
    ['Infinity', Infinity],
    ['NaN', Number.NaN],
    ['a fraction of a ms', Date.UTC(2025, 0, 15, 10) + 0.5],
    ['a negative number', -1],
    ['a string', '2025-01-15T10:00:00Z'],
    ['an invalid Date', new Date('not a date')],
  ])('rejects %s with CronLockConfigError, without running', async (_label, scheduledAt) => {
    const locks = await bootLocks();
    let ran = false;
    await expect(
      locks.run('job', { scheduledAt: scheduledAt as number }, () => {
        ran = true;
      }),
    ).rejects.toBeInstanceOf(CronLockConfigError);
    expect(ran).toBe(false);
  });

  it.each([['skip' as const], ['run' as const]])(
    'with onStoreError %s, a scheduledAt far ahead of Redis is refused, runs nowhere and claims nothing',
    async (onStoreError) => {
      const locks = await bootLocks({ onStoreError });
      let runs = 0;
      // A µs timestamp passed as ms: year 50,000 and more.
      const refused = await locks.run('job', { scheduledAt: Date.now() * 1_000 }, () => {
        runs++;
      });
      expect(refused).toEqual({ ran: false, reason: 'store-error' });
      expect(runs).toBe(0);
      expect((await locks.inspect('job')).lastTick).toBeNull();

      const now = Date.now();
      expect(await locks.run('job', { scheduledAt: now }, () => runs++)).toMatchObject({
        ran: true,
      });
      expect(runs).toBe(1);
      expect((await locks.inspect('job')).lastTick?.getTime()).toBe(now);
    },
  );
});
