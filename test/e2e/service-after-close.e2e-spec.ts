// CronLockService's store calls at the end of an app's life: after app.close(), and from another
// module's shutdown hook that Nest calls once the lock module closed its store (real redis-server).
import { Global, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CronLockConfigError, CronLockModule, CronLockService } from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';

/** Each store call of the service, with the text its error must start with. */
const STORE_CALLS: Array<[string, (locks: CronLockService) => Promise<unknown>]> = [
  ['CronLockService.pause("reports")', (locks) => locks.pause('reports')],
  ['CronLockService.resume("reports")', (locks) => locks.resume('reports')],
  ['CronLockService.inspect("reports")', (locks) => locks.inspect('reports')],
  ['CronLockService.inspect()', (locks) => locks.inspect()],
  ['CronLockService.history("reports")', (locks) => locks.history('reports')],
  ['CronLockService.ping()', (locks) => locks.ping()],
];

/** What a call made once the module closed the store it created settled with. */
async function outcomeOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { resolved: await call() };
  } catch (error) {
    return error;
  }
}

function expectClosedAppError(outcome: unknown, call: string): void {
  expect(outcome).toBeInstanceOf(CronLockConfigError);
  const message = (outcome as Error).message;
  expect(message.startsWith(`${call}: `)).toBe(true);
  expect(message).toContain('app.close()');
  expect(message).toContain('Fix: ');
  expect(message).not.toContain('redis://');
}

describe('CronLockService after its app closed (real redis-server)', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => process.off('unhandledRejection', onUnhandled));

  it('rejects every store call after app.close() with a CronLockConfigError naming the call and the fix', async () => {
    const module = await Test.createTestingModule({
      imports: [
        CronLockModule.forRoot({
          redis: testRedisUrl(),
          keyPrefix: uniquePrefix('after-close'),
          logger: new CapturingLogger(),
        }),
      ],
    }).compile();
    await module.init();
    const locks = module.get(CronLockService);
    // Lists one name, so that inspect() without a name has a read to make.
    await locks.run('reports', undefined, () => undefined);
    await module.close();

    for (const [call, make] of STORE_CALLS) {
      expectClosedAppError(await outcomeOf(() => make(locks)), call);
    }
    expect(unhandled).toEqual([]);
  });

  it("rejects the same way from another module's onApplicationShutdown called after the lock module's", async () => {
    const outcomes: unknown[] = [];
    @Injectable()
    class Reporter implements OnApplicationShutdown {
      constructor(private readonly locks: CronLockService) {}
      async onApplicationShutdown(): Promise<void> {
        for (const [, make] of STORE_CALLS) {
          outcomes.push(await outcomeOf(() => make(this.locks)));
        }
      }
    }
    // A global module imported before the (global) lock module: Nest closes it after that one.
    @Global()
    @Module({ providers: [Reporter] })
    class ReportingModule {}
    const module = await Test.createTestingModule({
      imports: [
        ReportingModule,
        CronLockModule.forRoot({
          redis: testRedisUrl(),
          keyPrefix: uniquePrefix('late-hook'),
          logger: new CapturingLogger(),
        }),
      ],
    }).compile();
    await module.init();
    await module.get(CronLockService).run('reports', undefined, () => undefined);
    await module.close();

    expect(outcomes).toHaveLength(STORE_CALLS.length);
    STORE_CALLS.forEach(([call], index) => expectClosedAppError(outcomes[index], call));
    expect(unhandled).toEqual([]);
  });

  it('keeps answering through a client passed in, which the module never closes', async () => {
    const client: Redis = newRedisClient();
    try {
      const module = await Test.createTestingModule({
        imports: [
          CronLockModule.forRoot({
            redis: client,
            keyPrefix: uniquePrefix('own-client'),
            logger: new CapturingLogger(),
          }),
        ],
      }).compile();
      await module.init();
      const locks = module.get(CronLockService);
      await module.close();

      await locks.pause('reports', { reason: 'after close' });
      expect((await locks.inspect('reports')).pauseReason).toBe('after close');
      expect(await locks.resume('reports')).toBe(true);
    } finally {
      await client.quit();
    }
  });
});
