import { MemoryLockStore } from 'nestjs-cron-lock';
import { describe, expect, it } from 'vitest';
import { describeLockStoreContract, newToken } from './lock-store.contract.js';

describeLockStoreContract('MemoryLockStore', async () => {
  const store = new MemoryLockStore();
  return { store, close: () => store.close() };
});

describe('MemoryLockStore specifics', () => {
  it('expires locks on the injected clock, not on wall time', async () => {
    let now = 1_000;
    const store = new MemoryLockStore(() => now);
    const token = newToken();
    await store.acquire({ name: 'job', token, ttl: 500, instanceId: 'a' });
    now += 499;
    expect((await store.inspect('job')).ttlLeft).toBe(1);
    expect(
      await store.acquire({ name: 'job', token: newToken(), ttl: 500, instanceId: 'b' }),
    ).toMatchObject({ acquired: false, reason: 'held' });
    now += 1;
    expect(await store.renew({ name: 'job', token, ttl: 500 })).toEqual({
      renewed: false,
      reason: 'expired',
    });
    expect(
      (await store.acquire({ name: 'job', token: newToken(), ttl: 500, instanceId: 'b' })).acquired,
    ).toBe(true);
  });

  it('answers ping without a round trip', async () => {
    expect(await new MemoryLockStore().ping()).toBe(0);
  });
});
