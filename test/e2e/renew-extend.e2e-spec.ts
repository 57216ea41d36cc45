// ctx.extend() and the renew timer of one run, against a real redis-server. The store is the real
// RedisLockStore behind a wrapper that only delays the replies of renew commands, as a slow
// network would: every command still runs on the server when it is sent.
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  RedisLockStore,
  type AcquireRequest,
  type AcquireResult,
  type CronLockEvents,
  type LockStore,
  type ReleaseRequest,
  type RenewRequest,
  type RenewResult,
  type StoredLockState,
} from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';

/** The renew reply latency of the reproduction. */
const RENEW_REPLY_MS = 200;
/** The ttl `ctx.extend()` asks for: its reply is the one held back. */
const EXTENDED_TTL_MS = 60_000;
/** How long the extend's reply waits for the renew timer's request at most. */
const EXTEND_REPLY_HOLD_MS = 1_500;

/**
 * RedisLockStore whose renew replies come back {@link RENEW_REPLY_MS} late, and whose reply to
 * the extend (ttl {@link EXTENDED_TTL_MS}) comes back only once the next renew request was sent
 * (or after {@link EXTEND_REPLY_HOLD_MS}): the order in which the race of the renew timer and
 * `ctx.extend()` showed up, made certain instead of left to timing.
 */
class SlowRenewReplies implements LockStore {
  private nextRenewSent: (() => void) | null = null;

  constructor(private readonly inner: RedisLockStore) {}

  acquire(request: AcquireRequest): Promise<AcquireResult> {
    return this.inner.acquire(request);
  }

  async renew(request: RenewRequest): Promise<RenewResult> {
    this.nextRenewSent?.();
    this.nextRenewSent = null;
    const reply = this.inner.renew(request);
    await delay(RENEW_REPLY_MS);
    if (request.ttl === EXTENDED_TTL_MS) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, EXTEND_REPLY_HOLD_MS);
        this.nextRenewSent = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return reply;
  }

  release(request: ReleaseRequest): Promise<boolean> {
    return this.inner.release(request);
  }

  inspect(name: string): Promise<StoredLockState> {
    return this.inner.inspect(name);
  }

  ping(): Promise<number> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('ctx.extend() while the renew timer fires (real redis-server)', () => {
  let redis: Redis;
  let modules: TestingModule[] = [];
  let stores: RedisLockStore[] = [];

  beforeAll(() => {
    redis = newRedisClient();
  });
  afterAll(async () => {
    await redis.quit();
  });
  afterEach(async () => {
    await Promise.all(modules.map((module) => module.close()));
    await Promise.all(stores.map((store) => store.close()));
    modules = [];
    stores = [];
  });

  async function boot(instanceId: string, store: LockStore): Promise<CronLockService> {
    const module = await Test.createTestingModule({
      imports: [CronLockModule.forRoot({ store, instanceId, logger: new CapturingLogger() })],
    }).compile();
    modules.push(module);
    await module.init();
    return module.get(CronLockService);
  }

  function redisStore(keyPrefix: string): RedisLockStore {
    const store = new RedisLockStore(testRedisUrl(), { keyPrefix, logger: false });
    stores.push(store);
    return store;
  }

  it('never lets another instance run while the extended run goes on, unless the run was told it lost the lock', async () => {
    const keyPrefix = uniquePrefix('renew-extend');
    const lockKey = `${keyPrefix}:{report}:lock`;
    const ttl = 3_000;
    const holder = await boot('holder', new SlowRenewReplies(redisStore(keyPrefix)));
    const contender = await boot('contender', redisStore(keyPrefix));
    const lost: Array<CronLockEvents['lost'] & { at: number }> = [];
    holder.on('lost', (event) => lost.push({ ...event, at: performance.now() }));
    const contenderRuns: number[] = [];
    const serverTtls: number[] = [];

    const result = await holder.run('report', { ttl }, async (ctx) => {
      // Sent before the renew timer fires (ttl / 3): the timer's renewal goes out while the
      // extend's reply is still on its way.
      await ctx.extend(EXTENDED_TTL_MS);
      // Long enough for the 3 s ttl of the timer's renewal to run out twice over, unless the
      // run is told first.
      const until = performance.now() + 2 * ttl + 1_000;
      while (performance.now() < until && !ctx.signal.aborted) {
        serverTtls.push(await redis.pttl(lockKey));
        const attempt = await contender.run('report', { ttl }, () => performance.now());
        if (attempt.ran) {
          contenderRuns.push(attempt.value);
        }
        await delay(100);
      }
      return { aborted: ctx.signal.aborted };
    });

    expect(result.ran).toBe(true);
    for (const ranAt of contenderRuns) {
      // Another instance ran: tolerable only if the holder had been told before (lost + abort).
      expect(lost.length, 'the holder was told before another instance ran').toBeGreaterThan(0);
      expect(lost[0].at).toBeLessThanOrEqual(ranAt);
    }
    if (result.ran && contenderRuns.length > 0) {
      expect(result.value.aborted).toBe(true);
    }
    if (contenderRuns.length === 0) {
      // The extend held: the server kept the lock the whole time.
      expect(serverTtls.every((pttl) => pttl > 0)).toBe(true);
    }
  });
});
