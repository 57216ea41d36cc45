// What the usage guide says `ctx.extend(ttl)` does under `renew: false`, read against a real
// redis-server: the lock is extended once, nothing renews it after, and it expires at the
// extended ttl (renew: false stays a hard cap on how long a run keeps the lock).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockLostError,
  type CronLockEvents,
} from 'nestjs-cron-lock';
import { REPO_ROOT } from '../support/fork-ts.js';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';

/** The `extend(ttl?)` row of the `LockContext` table, on one line. */
function extendRow(): string {
  const usage = readFileSync(join(REPO_ROOT, 'docs/usage.md'), 'utf8');
  const row = usage.split('\n').find((line) => line.startsWith('| `extend(ttl?)`'));
  expect(row, 'the extend(ttl?) row of docs/usage.md').toBeDefined();
  return row!;
}

/** Resolves with the monotonic time at which `signal` aborts; rejects if it does not in time. */
function whenAborted(signal: AbortSignal, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`signal not aborted within ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve(performance.now());
      },
      { once: true },
    );
  });
}

describe('ctx.extend() under renew: false', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newRedisClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('extends the lock once: no renewal follows, and it expires at the extended ttl', async () => {
    const keyPrefix = uniquePrefix('extend-no-renew');
    const module = await Test.createTestingModule({
      imports: [CronLockModule.forRoot({ redis: testRedisUrl(), keyPrefix, logger: false })],
    }).compile();
    await module.init();
    try {
      const locks = module.get(CronLockService);
      const renewed: Array<CronLockEvents['renewed']> = [];
      const lost: Array<CronLockEvents['lost']> = [];
      locks.on('renewed', (event) => renewed.push(event));
      locks.on('lost', (event) => lost.push(event));

      const result = await locks.run('capped', { ttl: 300, renew: false }, async (ctx) => {
        await ctx.extend(1_200);
        const extendedAt = performance.now();
        const pttl = await redis.pttl(`${keyPrefix}:{capped}:lock`);
        const abortedAt = await whenAborted(ctx.signal, 10_000);
        return { pttl, error: ctx.signal.reason as unknown, afterMs: abortedAt - extendedAt };
      });

      expect(result.ran).toBe(true);
      if (!result.ran) return;
      // Extended past the job's 300 ms ttl...
      expect(result.value.pttl).toBeGreaterThan(300);
      expect(result.value.pttl).toBeLessThanOrEqual(1_200);
      // ...and lost once that ran out: a renewal at 1200 ms would have kept it past the 10 s wait.
      expect(result.value.error).toBeInstanceOf(LockLostError);
      expect(result.value.error).toMatchObject({ reason: 'expired' });
      expect(result.value.afterMs).toBeGreaterThanOrEqual(1_200 - 150);
      expect(renewed.map((event) => event.ttl)).toEqual([1_200]);
      expect(lost).toMatchObject([{ reason: 'expired' }]);
    } finally {
      await module.close();
    }
  });

  it('is described so in the usage guide', () => {
    const row = extendRow();
    // It said "keeps renewing at that ttl" whatever `renew`.
    expect(row).toMatch(/With `renew: false` it extends once/);
    expect(row).toContain('expires at that ttl');
  });
});
