// A RedisLockStore built from a URL connects on its first command (so that a bootstrap that fails
// first leaves no connection open): every public method must work as that first command, the
// trigger channel's included, as admin scripts call them on a store they just built.
import { afterEach, describe, expect, it } from 'vitest';
import { RedisLockStore } from 'nestjs-cron-lock';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';

describe('RedisLockStore built from a URL: its first command', () => {
  const stores: RedisLockStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  const freshStore = (): RedisLockStore => {
    const store = new RedisLockStore(testRedisUrl(), {
      keyPrefix: uniquePrefix('first-command'),
      logger: false,
    });
    stores.push(store);
    return store;
  };

  it('publishes a trigger', async () => {
    await expect(
      freshStore().triggers.publish({ kind: 'request', id: 'first', name: 'job', force: false }),
    ).resolves.toBe(0);
  });

  it('claims a trigger', async () => {
    await expect(freshStore().triggers.claim('job', 'first', 'instance-a', 60_000)).resolves.toBe(
      true,
    );
  });

  it('answers every other public method', async () => {
    await expect(freshStore().ping()).resolves.toBeGreaterThanOrEqual(0);
    await expect(
      freshStore().acquire({ name: 'job', token: 't1', ttl: 10_000, instanceId: 'a' }),
    ).resolves.toMatchObject({ acquired: true });
    await expect(freshStore().inspect('job')).resolves.toMatchObject({ name: 'job' });
    await expect(freshStore().listJobs()).resolves.toEqual([]);
  });
});
