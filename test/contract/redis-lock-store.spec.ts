import type { LoggerService } from '@nestjs/common';
import { Redis } from 'ioredis';
import { LockStoreError, RedisLockStore } from 'nestjs-cron-lock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort, startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { describeLockStoreContract, newToken } from './lock-store.contract.js';
import { crc16, keySlot } from '../support/key-slot.js';
import { recordRun } from '../support/recorded-run.js';

describeLockStoreContract('RedisLockStore', async () => {
  const store = new RedisLockStore(testRedisUrl(), {
    keyPrefix: uniquePrefix('contract'),
    logger: false,
  });
  return { store, close: () => store.close() };
});

describeLockStoreContract('RedisLockStore (plain evalsha)', async () => {
  const store = new RedisLockStore(testRedisUrl(), {
    keyPrefix: uniquePrefix('plain'),
    scriptTransport: 'plain',
    logger: false,
  });
  return { store, close: () => store.close() };
});

async function scanKeys(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}

function countOf(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

describe('RedisLockStore scriptTransport', () => {
  it('refuses a transport it does not know, naming the two it has, before creating a client', () => {
    expect(
      () => new RedisLockStore(testRedisUrl(), { scriptTransport: 'fast' as never, logger: false }),
    ).toThrow(/RedisLockStore: option scriptTransport must be 'batched' or 'plain', got "fast"/);
  });
});

describe('RedisLockStore on a real Redis', () => {
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

  function newStore(keyPrefix = uniquePrefix('redis'), url = testRedisUrl()): RedisLockStore {
    const store = new RedisLockStore(url, { keyPrefix, logger: false });
    cleanups.push(() => store.close());
    return store;
  }

  it('gives every key it writes an expiry, the state hash included', async () => {
    const prefix = uniquePrefix('ttl');
    const store = newStore(prefix);
    const released = newToken();
    await store.acquire({
      name: 'released',
      token: released,
      ttl: 60_000,
      scheduledAt: Date.now(),
      instanceId: 'a',
    });
    await store.release({ name: 'released', token: released });
    const kept = newToken();
    await store.acquire({ name: 'kept', token: kept, ttl: 60_000, instanceId: 'a' });
    await store.release({ name: 'kept', token: kept, keepFor: 30_000 });
    const held = newToken();
    await store.acquire({ name: 'held', token: held, ttl: 60_000, instanceId: 'a' });
    await store.renew({ name: 'held', token: held, ttl: 90_000 });

    const keys = await scanKeys(admin, prefix);
    expect(keys).toEqual([
      `${prefix}:{held}:lock`,
      `${prefix}:{held}:state`,
      `${prefix}:{kept}:lock`,
      `${prefix}:{kept}:state`,
      `${prefix}:{released}:state`,
    ]);
    for (const key of keys) {
      const pttl = await admin.pttl(key);
      expect(pttl, `PTTL of ${key}`).toBeGreaterThan(0);
    }
    expect(await admin.type(`${prefix}:{released}:state`)).toBe('hash');
  });

  it('records an outcome on a lost state hash with an expiry, and keeps tokens increasing', async () => {
    const prefix = uniquePrefix('outcome');
    const store = newStore(prefix);
    const { state } = store.keysOf('job');
    const token = newToken();
    const first = await store.acquire({ name: 'job', token, ttl: 60_000, instanceId: 'a' });
    expect(first.acquired).toBe(true);

    // The state hash vanishes mid-run (eviction, data loss): the release re-creates it with the
    // outcome, and must give it an expiry and leave the fencing token to the clock seed.
    await admin.del(state);
    const finishedAt = Date.now();
    await store.release({
      name: 'job',
      token,
      outcome: { status: 'completed', durationMs: 12, finishedAt },
    });
    expect(await admin.hgetall(state)).toEqual({
      ok_at: String(finishedAt),
      ok_ms: '12',
      fails: '0',
      outcome: 'completed',
      end_at: String(finishedAt),
    });
    const pttl = await admin.pttl(state);
    expect(pttl).toBeGreaterThan(29 * 86_400_000);
    expect(pttl).toBeLessThanOrEqual(30 * 86_400_000);

    const next = await store.acquire({
      name: 'job',
      token: newToken(),
      ttl: 60_000,
      instanceId: 'a',
    });
    expect(next).toMatchObject({ acquired: true, lastSuccessAt: finishedAt });
    if (first.acquired && next.acquired) {
      expect(next.fencingToken).toBeGreaterThan(first.fencingToken);
    }
  });

  it('keeps tokens increasing when the state hash goes back to an older copy', async () => {
    // A failover to a replica that missed the last writes (or an older AOF) brings back an
    // older fence: a plain counter would then hand out a token the old master already gave.
    const store = newStore();
    const { state } = store.keysOf('job');
    const tokens: number[] = [];
    for (let i = 0; i < 3; i++) {
      const token = newToken();
      const result = await store.acquire({ name: 'job', token, ttl: 60_000, instanceId: 'a' });
      if (!result.acquired) throw new Error(`acquire ${i} refused: ${result.reason}`);
      tokens.push(result.fencingToken);
      await store.release({ name: 'job', token });
    }
    await admin.hset(state, 'fence', String(tokens[0]));
    const after = await store.acquire({
      name: 'job',
      token: newToken(),
      ttl: 60_000,
      instanceId: 'a',
    });
    expect(after.acquired).toBe(true);
    if (after.acquired) {
      expect(after.fencingToken).toBeGreaterThan(tokens[2]);
      expect(Number.isSafeInteger(after.fencingToken)).toBe(true);
    }
  });

  it('never shortens a long marker expiry when a release records an outcome', async () => {
    const store = newStore(uniquePrefix('marker'));
    const { state } = store.keysOf('yearly');
    const token = newToken();
    const twoYears = 2 * 365 * 86_400_000;
    await store.acquire({
      name: 'yearly',
      token,
      ttl: 60_000,
      scheduledAt: Date.now(),
      markerTtl: twoYears,
      instanceId: 'a',
    });
    await store.release({
      name: 'yearly',
      token,
      outcome: { status: 'failed', durationMs: 5, finishedAt: Date.now() },
    });
    expect(await admin.pttl(state)).toBeGreaterThan(twoYears - 60_000);
    expect(await admin.hget(state, 'fails')).toBe('1');
  });

  describe('state expiry', () => {
    const DAY = 86_400_000;
    const STATE_TTL = 30 * DAY;

    async function serverMs(): Promise<number> {
      const [seconds, micros] = await admin.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    }

    /** Makes the hash look as if its expiry had been set `left` ms from now. */
    async function setExpiry(state: string, left: number): Promise<void> {
      await admin.hset(state, 'exp_at', String((await serverMs()) + left));
      await admin.pexpire(state, left);
    }

    let occurrence = Date.UTC(2025, 0, 15);

    /** One run of `job`, or of `ticked` with a new occurrence (the acquire's other HSET). */
    async function run(
      store: RedisLockStore,
      name: 'job' | 'ticked' = 'job',
      markerTtl?: number,
    ): Promise<void> {
      const token = newToken();
      const scheduledAt = name === 'ticked' ? (occurrence += 60_000) : undefined;
      const result = await store.acquire({
        name,
        token,
        ttl: 60_000,
        instanceId: 'a',
        scheduledAt,
        markerTtl,
      });
      expect(result.acquired).toBe(true);
      await store.release({ name, token });
    }

    it('sets the expiry and exp_at on the first acquisition', async () => {
      const store = newStore(uniquePrefix('exp'));
      for (const name of ['job', 'ticked'] as const) {
        const { state } = store.keysOf(name);
        const before = await serverMs();
        await run(store, name);
        const after = await serverMs();
        const expAt = Number(await admin.hget(state, 'exp_at'));
        expect(expAt, name).toBeGreaterThanOrEqual(before + STATE_TTL);
        expect(expAt, name).toBeLessThanOrEqual(after + STATE_TTL);
        expect(await admin.pttl(state), name).toBeGreaterThan(STATE_TTL - 60_000);
      }
    });

    it('leaves the expiry alone while more than half of it is left', async () => {
      const store = newStore(uniquePrefix('exp'));
      for (const name of ['job', 'ticked'] as const) {
        const { state } = store.keysOf(name);
        await run(store, name);
        await setExpiry(state, 20 * DAY);
        const expAt = await admin.hget(state, 'exp_at');
        await run(store, name);
        const pttl = await admin.pttl(state);
        expect(pttl, name).toBeLessThanOrEqual(20 * DAY);
        expect(pttl, name).toBeGreaterThan(20 * DAY - 60_000);
        expect(await admin.hget(state, 'exp_at'), name).toBe(expAt);
      }
    });

    it('refreshes the expiry once less than half is left, or when exp_at is missing', async () => {
      const store = newStore(uniquePrefix('exp'));
      for (const name of ['job', 'ticked'] as const) {
        const { state } = store.keysOf(name);
        await run(store, name);

        await setExpiry(state, 14 * DAY);
        let before = await serverMs();
        await run(store, name);
        expect(await admin.pttl(state), name).toBeGreaterThan(STATE_TTL - 60_000);
        expect(Number(await admin.hget(state, 'exp_at')), name).toBeGreaterThanOrEqual(
          before + STATE_TTL,
        );

        // A hash written before exp_at existed, or one a release re-created.
        await admin.hdel(state, 'exp_at');
        await admin.pexpire(state, 20 * DAY);
        before = await serverMs();
        await run(store, name);
        expect(await admin.pttl(state), name).toBeGreaterThan(STATE_TTL - 60_000);
        expect(Number(await admin.hget(state, 'exp_at')), name).toBeGreaterThanOrEqual(
          before + STATE_TTL,
        );
      }
    });

    /** One recorded run of `name` on a new occurrence (a history of 5). */
    const runRecorded = (store: RedisLockStore, name: string, markerTtl: number): Promise<void> =>
      recordRun(store, { name, scheduledAt: (occurrence += 60_000), historySize: 5, markerTtl });

    it('keeps the history as long as the state, when a long marker ttl keeps the state past 30 days', async () => {
      // A monthly job: its marker ttl (two periods) keeps the state for 124 days. Its history
      // must last as long, or a run after a 31-day month finds the earlier entries gone.
      const store = newStore(uniquePrefix('exp'));
      const { state, history } = store.keysOf('monthly');
      for (let run = 1; run <= 2; run++) {
        await runRecorded(store, 'monthly', 62 * DAY);
        expect(await admin.llen(history)).toBe(run);
        expect(await admin.pttl(state)).toBeGreaterThan(124 * DAY - 60_000);
        expect(await admin.pttl(history)).toBeGreaterThan(124 * DAY - 60_000);
      }
    });

    it("refreshes the history's expiry when it refreshes the state's", async () => {
      const store = newStore(uniquePrefix('exp'));
      const { state, history } = store.keysOf('ticked');
      await runRecorded(store, 'ticked', 0);
      await setExpiry(state, 14 * DAY);
      await admin.pexpire(history, 14 * DAY);
      await runRecorded(store, 'ticked', 0);
      expect(await admin.llen(history)).toBe(2);
      expect(await admin.pttl(state)).toBeGreaterThan(STATE_TTL - 60_000);
      expect(await admin.pttl(history)).toBeGreaterThan(STATE_TTL - 60_000);
    });

    it("refreshes the history's expiry when a paused occurrence's claim refreshes the state's", async () => {
      const store = newStore(uniquePrefix('exp'));
      const { state, history } = store.keysOf('ticked');
      await runRecorded(store, 'ticked', 0);
      await store.pause('ticked', { reason: null, until: null });
      await setExpiry(state, 14 * DAY);
      await admin.pexpire(history, 14 * DAY);
      const claim = await store.acquire({
        name: 'ticked',
        token: newToken(),
        ttl: 60_000,
        instanceId: 'a',
        scheduledAt: (occurrence += 60_000),
        historySize: 5,
      });
      expect(claim).toMatchObject({ acquired: false, reason: 'paused' });
      expect(await admin.llen(history)).toBe(2);
      expect(await admin.pttl(state)).toBeGreaterThan(STATE_TTL - 60_000);
      expect(await admin.pttl(history)).toBeGreaterThan(STATE_TTL - 60_000);
    });

    it("moves the history's expiry with the state's when a pause moves it", async () => {
      // The pause gives the state 30 days again: the acquisitions after it find more than half
      // left and leave both expiries alone, so a history left at 14 days would go 16 days early.
      const store = newStore(uniquePrefix('exp'));
      const { state, history } = store.keysOf('ticked');
      await runRecorded(store, 'ticked', 0);
      await setExpiry(state, 14 * DAY);
      await admin.pexpire(history, 14 * DAY);
      await store.pause('ticked', { reason: null, until: null });
      await store.resume('ticked');
      await runRecorded(store, 'ticked', 0);
      expect(await admin.llen(history)).toBe(2);
      expect(await admin.pttl(state)).toBeGreaterThan(STATE_TTL - 60_000);
      expect(await admin.pttl(history)).toBeGreaterThan(STATE_TTL - 60_000);
    });

    it('refreshes at once when a longer marker ttl needs more, to twice the marker ttl', async () => {
      const store = newStore(uniquePrefix('exp'));
      const { state } = store.keysOf('job');
      await run(store);
      expect(await admin.pttl(state)).toBeLessThanOrEqual(STATE_TTL);
      // 20 of 30 days left: enough for the default, not for a 40-day marker.
      await setExpiry(state, 20 * DAY);
      await run(store, 'job', 40 * DAY);
      expect(await admin.pttl(state)).toBeGreaterThan(80 * DAY - 60_000);
    });

    it("keeps the acquire's expiry when the release records the job's first outcome", async () => {
      const store = newStore(uniquePrefix('exp'));
      for (const status of ['completed', 'failed'] as const) {
        const token = newToken();
        await store.acquire({ name: status, token, ttl: 60_000, instanceId: 'a' });
        // Shorter than the 30 days the release would give a hash without expiry.
        await admin.pexpire(store.keysOf(status).state, 20 * DAY);
        expect(await admin.hexists(store.keysOf(status).state, 'outcome')).toBe(0);
        expect(
          await store.release({
            name: status,
            token,
            outcome: { status, durationMs: 5, finishedAt: Date.now() },
          }),
        ).toBe(true);
        const pttl = await admin.pttl(store.keysOf(status).state);
        expect(pttl, status).toBeLessThanOrEqual(20 * DAY);
        expect(pttl, status).toBeGreaterThan(20 * DAY - 60_000);
      }
    });

    it('gives an expiry to a hash that a failure re-created, and to one a late report re-created', async () => {
      const store = newStore(uniquePrefix('exp'));
      for (const [name, status] of [
        ['failed', 'failed'],
        ['stale', 'completed'],
      ] as const) {
        const { lock, state } = store.keysOf(name);
        const token = newToken();
        await store.acquire({ name, token, ttl: 60_000, instanceId: 'a' });
        await admin.del(state);
        if (name === 'stale') await admin.del(lock);
        await store.release({
          name,
          token,
          outcome: { status, durationMs: 5, finishedAt: Date.now() },
        });
        const pttl = await admin.pttl(state);
        expect(pttl, name).toBeGreaterThan(STATE_TTL - 60_000);
        expect(pttl, name).toBeLessThanOrEqual(STATE_TTL);
      }
    });
  });

  it('never lets a report stamped earlier move the last success back, lost run or holder', async () => {
    const store = newStore(uniquePrefix('okat'));
    const { lock, state } = store.keysOf('job');
    const finished = Date.UTC(2025, 0, 15, 10, 0, 0);
    const success = (finishedAt: number, durationMs: number) => ({
      status: 'completed' as const,
      durationMs,
      finishedAt,
    });

    const lost = newToken();
    await store.acquire({ name: 'job', token: lost, ttl: 60_000, instanceId: 'a' });
    await admin.del(lock); // its lock expired
    const holder = newToken();
    expect(
      (await store.acquire({ name: 'job', token: holder, ttl: 60_000, instanceId: 'b' })).acquired,
    ).toBe(true);
    expect(
      await store.release({ name: 'job', token: holder, outcome: success(finished + 5_000, 50) }),
    ).toBe(true);
    // The lost run reports last, stamped earlier: ok_at must not go back.
    expect(await store.release({ name: 'job', token: lost, outcome: success(finished, 10) })).toBe(
      false,
    );
    expect(await admin.hmget(state, 'ok_at', 'ok_ms', 'end_at')).toEqual([
      String(finished + 5_000),
      '50',
      String(finished),
    ]);

    // Nor a holder's report stamped before ok_at (a slower clock): the run and its end are
    // recorded, the last success stays where it was.
    const next = newToken();
    expect(
      (await store.acquire({ name: 'job', token: next, ttl: 60_000, instanceId: 'c' })).acquired,
    ).toBe(true);
    expect(
      await store.release({ name: 'job', token: next, outcome: success(finished + 1_000, 70) }),
    ).toBe(true);
    expect(await admin.hmget(state, 'ok_at', 'ok_ms', 'end_at')).toEqual([
      String(finished + 5_000),
      '50',
      String(finished + 1_000),
    ]);

    // A lost run stamped after ok_at still records its success.
    const late = newToken();
    await store.acquire({ name: 'job', token: late, ttl: 60_000, instanceId: 'd' });
    await admin.del(lock);
    expect(
      await store.release({ name: 'job', token: late, outcome: success(finished + 9_000, 90) }),
    ).toBe(false);
    expect(await admin.hget(state, 'ok_at')).toBe(String(finished + 9_000));
  });

  it.each([
    ['a µs timestamp', String(Date.now() * 1_000)],
    ['inf', 'inf'],
    ['a hex number', '0x7fffffffffffff'],
  ])(
    'ignores an occurrence marker poisoned with %s, written before ticks were bounded',
    async (_label, poison) => {
      const prefix = uniquePrefix('poison');
      const store = newStore(prefix);
      await admin.hset(`${prefix}:{job}:state`, 'tick', poison, 'fence', '5');
      await admin.pexpire(`${prefix}:{job}:state`, 60_000);
      const now = Date.now();
      const result = await store.acquire({
        name: 'job',
        token: newToken(),
        ttl: 60_000,
        scheduledAt: now,
        instanceId: 'a',
      });
      expect(result.acquired).toBe(true);
      expect((await store.inspect('job')).lastTick).toBe(now);
    },
  );

  it('puts all keys of one job in one cluster hash slot', async () => {
    // Sanity of the slot helper against values CLUSTER KEYSLOT returns.
    expect(keySlot('foo')).toBe(12_182);
    expect(keySlot('bar')).toBe(5_061);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));

    const prefix = uniquePrefix('slot');
    const store = newStore(prefix);
    const names = ['ReportsService.hourly', 'sync', 'a:b-c_d.e'];
    for (const name of names) {
      await store.acquire({
        name,
        token: newToken(),
        ttl: 60_000,
        scheduledAt: 1,
        instanceId: 'a',
      });
      const keys = await scanKeys(admin, `${prefix}:{${name}}`);
      expect(keys).toHaveLength(2);
      for (const key of keys) {
        expect(countOf(key, `{${name}}`)).toBe(1);
        expect(countOf(key, '{')).toBe(1);
        expect(keySlot(key)).toBe(crc16(name) % 16_384);
      }
    }
  });

  it('returns lock, state and history keys in the documented shape', () => {
    const store = newStore('cron-lock');
    expect(store.keysOf('job')).toEqual({
      lock: 'cron-lock:{job}:lock',
      state: 'cron-lock:{job}:state',
      history: 'cron-lock:{job}:history',
    });
  });

  it('gives the history list and a paused state an expiry, written by the release and the acquire', async () => {
    const store = newStore();
    const keys = store.keysOf('job');
    const token = newToken();
    const scheduledAt = Date.now() - 60_000;
    await store.acquire({ name: 'job', token, ttl: 60_000, scheduledAt, instanceId: 'a' });
    await store.release({
      name: 'job',
      token,
      historySize: 5,
      outcome: {
        status: 'completed',
        durationMs: 3,
        finishedAt: Date.now(),
        run: {
          scheduledAt,
          startedAt: Date.now() - 3,
          fencingToken: 1,
          instanceId: 'a',
          trigger: 'schedule',
          outcome: 'completed',
          error: null,
        },
      },
    });
    expect(await admin.pttl(keys.history)).toBeGreaterThan(0);
    await admin.del(keys.history, keys.state);
    await store.pause('job', { reason: null, until: null });
    expect(await admin.pttl(keys.state)).toBeGreaterThan(0);
    const paused = await store.acquire({
      name: 'job',
      token: newToken(),
      ttl: 60_000,
      scheduledAt: scheduledAt + 1,
      instanceId: 'b',
      historySize: 5,
    });
    expect(paused).toMatchObject({ acquired: false, reason: 'paused' });
    expect(await admin.llen(keys.history)).toBe(1);
    expect(await admin.pttl(keys.history)).toBeGreaterThan(0);
    expect(await admin.exists(keys.lock)).toBe(0);
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

    it('hands out a greater fencing token after Redis lost its data (FLUSHALL)', async () => {
      const store = newStore(uniquePrefix('fence'), server.url);
      let before = 0;
      for (let i = 0; i < 5; i++) {
        const token = newToken();
        const result = await store.acquire({ name: 'job', token, ttl: 60_000, instanceId: 'a' });
        expect(result.acquired).toBe(true);
        if (result.acquired) before = result.fencingToken;
        await store.release({ name: 'job', token });
      }
      // Seeded from the server clock in microseconds: far above a plain counter.
      expect(before).toBeGreaterThan(1_000_000_000_000_000);
      expect(Number.isSafeInteger(before)).toBe(true);

      await client.flushall();
      expect((await store.inspect('job')).fencingToken).toBeNull();

      const after = await store.acquire({
        name: 'job',
        token: newToken(),
        ttl: 60_000,
        instanceId: 'a',
      });
      expect(after.acquired).toBe(true);
      if (after.acquired) expect(after.fencingToken).toBeGreaterThan(before);
    });

    it('keeps acquiring, renewing, inspecting and releasing after SCRIPT FLUSH', async () => {
      const store = newStore(uniquePrefix('scripts'), server.url);
      const first = newToken();
      expect(
        (await store.acquire({ name: 'job', token: first, ttl: 60_000, instanceId: 'a' })).acquired,
      ).toBe(true);
      await store.renew({ name: 'job', token: first, ttl: 60_000 });
      await store.release({ name: 'job', token: first });
      await store.inspect('job');

      expect(await client.script('FLUSH')).toBe('OK');

      const token = newToken();
      expect(
        (await store.acquire({ name: 'job', token, ttl: 60_000, scheduledAt: 5, instanceId: 'a' }))
          .acquired,
      ).toBe(true);
      await client.script('FLUSH');
      expect(await store.renew({ name: 'job', token, ttl: 90_000 })).toEqual({ renewed: true });
      await client.script('FLUSH');
      expect((await store.inspect('job')).holder).toBe('a');
      await client.script('FLUSH');
      expect(await store.release({ name: 'job', token })).toBe(true);
      expect((await store.inspect('job')).holder).toBeNull();
    });
  });

  describe('client ownership', () => {
    it('never closes a client it was given', async () => {
      const client = newRedisClient();
      cleanups.push(() => client.quit());
      const store = new RedisLockStore(client, { keyPrefix: uniquePrefix('given'), logger: false });
      expect(store.client).toBe(client);
      expect(
        (await store.acquire({ name: 'job', token: newToken(), ttl: 1_000, instanceId: 'a' }))
          .acquired,
      ).toBe(true);

      await store.close();
      expect(client.status).toBe('ready');
      expect(await client.ping()).toBe('PONG');
    });

    it('closes the client it created from a URL', async () => {
      const store = new RedisLockStore(testRedisUrl(), {
        keyPrefix: uniquePrefix('owned'),
        logger: false,
      });
      expect(await store.ping()).toBeGreaterThanOrEqual(0);
      await store.close();
      await waitFor(() => store.client.status === 'end', { message: 'the owned client to end' });
      await expect(
        store.acquire({ name: 'job', token: newToken(), ttl: 1_000, instanceId: 'a' }),
      ).rejects.toBeInstanceOf(LockStoreError);
    });
  });

  describe('when Redis is unreachable', () => {
    it('rejects quickly with a LockStoreError that never contains the password', async () => {
      const password = 's3cretPass';
      const port = await findFreePort();
      const lines: string[] = [];
      const record = (message: unknown): void => {
        lines.push(String(message));
      };
      const logger: LoggerService = { log: record, warn: record, error: record };
      const store = new RedisLockStore(`redis://user:${password}@127.0.0.1:${port}`, {
        keyPrefix: uniquePrefix('down'),
        logger,
      });
      cleanups.push(() => store.close());

      const started = Date.now();
      const operations: Array<Promise<unknown>> = [
        store.acquire({ name: 'job', token: newToken(), ttl: 1_000, instanceId: 'a' }),
        store.renew({ name: 'job', token: newToken(), ttl: 1_000 }),
        store.release({ name: 'job', token: newToken() }),
        store.inspect('job'),
        store.ping(),
      ];
      const outcomes = await Promise.allSettled(operations);
      // Bounded by the 2 s command timeout of the lock client, with a margin for a loaded machine.
      expect(Date.now() - started).toBeLessThan(8_000);

      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        if (outcome.status !== 'rejected') continue;
        const error = outcome.reason as Error;
        expect(error).toBeInstanceOf(LockStoreError);
        expect(error.message).not.toContain(password);
        expect(String(error.stack)).not.toContain(password);
      }
      await waitFor(() => lines.length > 0, { message: 'the connection error to be logged' });
      for (const line of lines) {
        expect(line).not.toContain(password);
      }
    });
  });
});
