// The built-in stores' own fleet methods, called directly (an admin tool, a script), as the three
// stores answer a caller's mistake: the same CronLockConfigError naming the call, before any round
// trip, never a database's own complaint, and nothing kept.
import {
  CronLockConfigError,
  MemoryLockStore,
  RedisLockStore,
  type LockStore,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';

const JOB = 'store-arguments';
const HOUR = 3_600_000;

/** What the database's own refusals read like: none may reach the caller. */
const DRIVER_WORDS = /ReplyError|ERR |SQLSTATE|syntax|bigint|encoding|constraint|TypeError/;

const BAD_PAUSES: Array<[label: string, pause: unknown, field: string]> = [
  ['until NaN', { reason: null, until: Number.NaN }, 'until'],
  ['until Infinity', { reason: null, until: Number.POSITIVE_INFINITY }, 'until'],
  ['until past what a Date holds', { reason: null, until: 1e20 }, 'until'],
  ['until a fraction', { reason: null, until: 1.5 }, 'until'],
  ['until negative', { reason: null, until: -1 }, 'until'],
  ['until a duration string', { reason: null, until: '2h' }, 'until'],
  ['until a Date', { reason: null, until: new Date(Date.now() + HOUR) }, 'until'],
  ['until left out', { reason: null }, 'until'],
  ['reason a number', { reason: 5, until: null }, 'reason'],
  ['reason empty', { reason: '', until: null }, 'reason'],
  ['reason blank', { reason: '   ', until: null }, 'reason'],
  ['reason with a NUL', { reason: 'a\u0000b', until: null }, 'reason'],
  ['reason on two lines', { reason: 'a\nb', until: null }, 'reason'],
  ['reason of 501 characters', { reason: 'x'.repeat(501), until: null }, 'reason'],
  ['reason left out', { until: null }, 'reason'],
  ['no pause object', undefined, 'pause'],
  ['a null pause', null, 'pause'],
];

interface StoreUnderTest {
  label: string;
  build: () => Promise<{ store: LockStore; close: () => Promise<void> }>;
}

const STORES: StoreUnderTest[] = [
  {
    label: 'MemoryLockStore',
    build: async () => {
      const store = new MemoryLockStore();
      return { store, close: () => store.close() };
    },
  },
  {
    label: 'RedisLockStore',
    build: async () => {
      const store = new RedisLockStore(testRedisUrl(), {
        keyPrefix: uniquePrefix('store-arguments'),
        logger: false,
      });
      return { store, close: () => store.close() };
    },
  },
  {
    label: 'PostgresLockStore',
    build: async () => {
      const pool = newPool();
      const table = uniqueTable('store_arguments');
      const store = new PostgresLockStore(pool, { table, logger: false });
      return {
        store,
        close: async () => {
          await store.close();
          await dropTable(pool, table);
          await pool.end();
        },
      };
    },
  },
];

/** What a call settled with: its rejection, or `undefined` if it resolved. */
async function rejectionOf(attempt: () => Promise<unknown>): Promise<unknown> {
  return attempt().then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe.each(STORES)('$label fleet methods called directly', ({ label, build }) => {
  let store: LockStore;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ store, close } = await build());
  }, 30_000);

  afterAll(async () => {
    await close?.();
  });

  describe('pause(name, { reason, until })', () => {
    it('keeps a good pause alike, and takes an until already past as a pause that is over', async () => {
      const until = Date.now() + HOUR;
      await store.pause!(JOB, { reason: 'vendor down', until });
      expect(await store.inspect(JOB)).toMatchObject({
        paused: true,
        pauseReason: 'vendor down',
        pausedUntil: until,
      });
      await store.pause!(JOB, { reason: null, until: Date.now() - HOUR });
      expect(await store.inspect(JOB)).toMatchObject({ paused: false, pausedUntil: null });
      expect(await store.resume!(JOB)).toBe(false);
    });

    it.each(BAD_PAUSES)(
      'rejects %s with a CronLockConfigError naming the call and the fix, and pauses nothing',
      async (_label, pause, field) => {
        const error = await rejectionOf(() => store.pause!(JOB, pause as never));
        expect(error).toBeInstanceOf(CronLockConfigError);
        const message = (error as Error).message;
        expect(message).toContain(`${label}.pause("${JOB}"): ${field}`);
        expect(message).toContain('Fix: pass');
        expect(message).not.toMatch(DRIVER_WORDS);
        expect(await store.inspect(JOB)).toMatchObject({ paused: false, pauseReason: null });
      },
    );
  });
});
