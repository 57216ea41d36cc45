// RedisLockStore.close() against a real redis-server: lock commands made in the turn that closes
// the store are written before the client quits.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLockStore } from 'nestjs-cron-lock';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';

describe('RedisLockStore.close()', () => {
  let redis: Redis;

  beforeAll(() => {
    redis = newRedisClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('writes the releases batched in the closing turn before it quits', async () => {
    const keyPrefix = uniquePrefix('store-close');
    const store = new RedisLockStore(testRedisUrl(), { keyPrefix, logger: false });
    // Scripts loaded: a call that meets NOSCRIPT is resent as EVAL, which no close can wait for
    // (the module waits for every release to be answered before it closes the store).
    await store.acquire({ name: 'warm-up', token: 'warm-up', ttl: 10_000, instanceId: 'closer' });
    await store.release({ name: 'warm-up', token: 'warm-up' });
    const names = ['one', 'two', 'three'];
    for (const name of names) {
      await expect(
        store.acquire({ name, token: `token-${name}`, ttl: 600_000, instanceId: 'closer' }),
      ).resolves.toMatchObject({ acquired: true });
    }

    // One turn: the first release is written at once, the others are batched for its end.
    const releases = names.map((name) =>
      store.release({ name, token: `token-${name}` }).then(
        (released) => ({ released }),
        (error: Error) => ({ error: error.message }),
      ),
    );
    const closing = store.close();

    expect(await Promise.all(releases)).toEqual(names.map(() => ({ released: true })));
    await closing;
    for (const name of names) {
      expect(await redis.pttl(store.keysOf(name).lock), `lock ${name}`).toBe(-2);
    }
  });
});
