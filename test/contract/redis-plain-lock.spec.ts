// The plain-lock path of RedisLockStore (SET NX PX in a script that reads the server clock):
// its fencing tokens against what the cron path stores, a data loss and a stringNumbers client.
import { Redis } from 'ioredis';
import { RedisLockStore } from 'nestjs-cron-lock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';
import { newToken } from './lock-store.contract.js';

const MINUTE = 60_000;

describe('RedisLockStore plain locks on a real Redis', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  let admin: Redis;

  beforeAll(() => {
    admin = newRedisClient();
  });

  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  afterAll(async () => {
    await admin.quit();
  });

  function newStore(keyPrefix = uniquePrefix('plain'), url = testRedisUrl()): RedisLockStore {
    const store = new RedisLockStore(url, { keyPrefix, logger: false });
    cleanups.push(() => store.close());
    return store;
  }

  async function takePlain(store: RedisLockStore, name = 'job'): Promise<number> {
    const token = newToken();
    const result = await store.acquire({ name, token, ttl: MINUTE, instanceId: 'a', plain: true });
    if (!result.acquired) throw new Error(`plain acquisition refused: ${result.reason}`);
    expect(await store.release({ name, token, plain: true })).toBe(true);
    return result.fencingToken;
  }

  it('hands out a plain token above a recorded fence that ran ahead of the server clock', async () => {
    // A clock stepped back, or a failover to a server whose clock is behind, leaves the cron
    // path's stored fence above the clock: the plain path must not go below it.
    const store = newStore();
    const { state } = store.keysOf('job');
    const [seconds, micros] = await admin.time();
    const ahead = (Number(seconds) * 1_000_000 + Number(micros) + 3_600_000_000).toString();
    await admin.hset(state, 'fence', ahead);
    const fence = await takePlain(store);
    expect(Number.isSafeInteger(fence)).toBe(true);
    expect(fence).toBeGreaterThan(Number(ahead));
  });

  it('hands out increasing plain tokens, one after another, while a recorded fence is ahead of the server clock', async () => {
    // Guarantee 6 holds for every acquisition: two plain locks in a row must not both get the
    // stored fence + 1, nor a recorded lock after them a token they had.
    const store = newStore();
    const { state } = store.keysOf('job');
    const [seconds, micros] = await admin.time();
    const ahead = Number(seconds) * 1_000_000 + Number(micros) + 3_600_000_000;
    await admin.hset(state, 'fence', String(ahead));
    const first = await takePlain(store);
    const second = await takePlain(store);
    expect(first).toBeGreaterThan(ahead);
    expect(second).toBeGreaterThan(first);
    const token = newToken();
    const recorded = await store.acquire({ name: 'job', token, ttl: MINUTE, instanceId: 'a' });
    expect(recorded).toMatchObject({ acquired: true });
    expect(recorded.acquired && recorded.fencingToken).toBeGreaterThan(second);
  });

  it('takes its plain token from the server clock, writing nothing but the lock key', async () => {
    const prefix = uniquePrefix('plain-keys');
    const store = newStore(prefix);
    const token = newToken();
    const [seconds] = await admin.time();
    const result = await store.acquire({
      name: 'job',
      token,
      ttl: MINUTE,
      instanceId: 'a',
      plain: true,
    });
    expect(result.acquired).toBe(true);
    // Microseconds of the server clock: far above any counter, comparable with the cron path's.
    if (result.acquired) {
      expect(result.fencingToken).toBeGreaterThanOrEqual(Number(seconds) * 1_000_000);
    }
    expect(await admin.keys(`${prefix}:*`)).toEqual([`${prefix}:{job}:lock`]);
    expect(await admin.pttl(`${prefix}:{job}:lock`)).toBeGreaterThan(0);
    expect(await store.release({ name: 'job', token, plain: true })).toBe(true);
    expect(await admin.keys(`${prefix}:*`)).toEqual([]);
  });

  it('reads the plain token and a held lock on a client made with stringNumbers', async () => {
    const client = new Redis(testRedisUrl(), { stringNumbers: true, maxRetriesPerRequest: 1 });
    cleanups.push(() => client.quit());
    const store = new RedisLockStore(client, {
      keyPrefix: uniquePrefix('plain-sn'),
      logger: false,
    });
    cleanups.push(() => store.close());
    const token = newToken();
    const first = await store.acquire({
      name: 'job',
      token,
      ttl: MINUTE,
      instanceId: 'a',
      plain: true,
    });
    expect(first).toMatchObject({ acquired: true });
    if (first.acquired) expect(typeof first.fencingToken).toBe('number');
    expect(
      await store.acquire({
        name: 'job',
        token: newToken(),
        ttl: MINUTE,
        instanceId: 'b',
        plain: true,
      }),
    ).toEqual({ acquired: false, reason: 'held' });
    expect(await store.release({ name: 'job', token, plain: true })).toBe(true);
  });

  describe('on a private server', () => {
    let server: RedisServerHandle;
    let client: Redis;

    beforeAll(async () => {
      server = await startRedisServer();
      client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    });

    afterAll(async () => {
      await client.quit();
      await server.stop();
    });

    it('hands out a greater plain token after Redis lost its data (FLUSHALL)', async () => {
      const store = newStore(uniquePrefix('plain-flush'), server.url);
      const recorded = newToken();
      const first = await store.acquire({
        name: 'job',
        token: recorded,
        ttl: MINUTE,
        instanceId: 'a',
      });
      if (!first.acquired) throw new Error(`recorded acquisition refused: ${first.reason}`);
      await store.release({ name: 'job', token: recorded });
      const before = await takePlain(store);
      expect(before).toBeGreaterThan(first.fencingToken);

      await client.flushall();

      const after = await takePlain(store);
      expect(after).toBeGreaterThan(before);
      const next = await store.acquire({
        name: 'job',
        token: newToken(),
        ttl: MINUTE,
        instanceId: 'a',
      });
      expect(next.acquired).toBe(true);
      if (next.acquired) expect(next.fencingToken).toBeGreaterThan(after);
    });
  });
});
