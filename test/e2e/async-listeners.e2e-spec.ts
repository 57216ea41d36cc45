// An async event listener that rejects must be logged like one that throws: never an unhandled
// rejection (which ends a Node process by default, with its lock held), never a change to the run.
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService } from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

/** Resolves after the current macrotask and the ones already queued (no timer involved). */
function nextTurns(count: number): Promise<void> {
  let turn = Promise.resolve();
  for (let i = 0; i < count; i++) {
    turn = turn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  }
  return turn;
}

describe('async event listeners (real redis-server)', () => {
  let redis: Redis;
  let module: TestingModule | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeAll(() => {
    redis = newRedisClient();
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await redis.quit();
  });
  afterEach(async () => {
    await module?.close();
    module = undefined;
  });

  it('logs a listener whose promise rejects, and the run and its release go on', async () => {
    const keyPrefix = uniquePrefix('async-listener');
    const logger = new CapturingLogger();
    module = await Test.createTestingModule({
      imports: [
        CronLockModule.forRoot({ redis: testRedisUrl(), keyPrefix, instanceId: 'a', logger }),
      ],
    }).compile();
    await module.init();
    const locks = module.get(CronLockService);
    locks.on('acquired', async () => {
      throw new Error('acquired listener broke');
    });
    locks.onAny(async ({ event }) => {
      if (event === 'completed') {
        throw new Error('forwarder broke');
      }
    });
    const released: boolean[] = [];
    locks.on('released', (event) => released.push(event.released));

    const result = await locks.run('async-listener', { ttl: '10s' }, () => 'done');

    expect(result).toMatchObject({ ran: true, value: 'done' });
    expect(released).toEqual([true]);
    expect(await redis.pttl(`${keyPrefix}:{async-listener}:lock`)).toBe(-2);
    await waitFor(
      () =>
        logger.errors().some((line) => line.includes('acquired listener broke')) &&
        logger.errors().some((line) => line.includes('forwarder broke')),
      { message: 'both listener failures to be logged' },
    );
    expect(logger.errors().find((line) => line.includes('acquired listener broke'))).toContain(
      '"acquired"',
    );
    // Node reports an unhandled rejection once the microtasks of the turn it happened in ran.
    await nextTurns(3);
    expect(unhandled).toEqual([]);
  });
});
