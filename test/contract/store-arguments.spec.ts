// The built-in stores' own fleet methods, called directly (an admin tool, a script), as the three
// stores answer a caller's mistake: the same CronLockConfigError naming the call, before any round
// trip, never a database's own complaint, and nothing kept.
import { CronLockConfigError, type LockStore } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { builtInStores } from '../support/built-in-stores.js';

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
  // C1 controls and Unicode separators: a line break or terminal escape in a log viewer or terminal.
  ['reason with a NEL (U+0085)', { reason: 'a\u0085b', until: null }, 'reason'],
  ['reason with a CSI (U+009B)', { reason: 'a\u009b2Jb', until: null }, 'reason'],
  ['reason with a line separator (U+2028)', { reason: 'a\u2028b', until: null }, 'reason'],
  ['reason with a paragraph separator (U+2029)', { reason: 'a\u2029b', until: null }, 'reason'],
  // Bidi overrides and isolates: they reorder what follows, so a note reads as another one.
  ['reason with a right-to-left override (U+202E)', { reason: 'a\u202eb', until: null }, 'reason'],
  ['reason with a left-to-right isolate (U+2066)', { reason: 'a\u2066b', until: null }, 'reason'],
  ['reason with a pop directional isolate (U+2069)', { reason: 'a\u2069b', until: null }, 'reason'],
  ['reason of 501 characters', { reason: 'x'.repeat(501), until: null }, 'reason'],
  ['reason left out', { until: null }, 'reason'],
  ['no pause object', undefined, 'pause'],
  ['a null pause', null, 'pause'],
];

const BAD_NAMES: Array<[label: string, name: unknown]> = [
  ['an empty name', ''],
  ['a name of 129 characters', 'x'.repeat(129)],
  ['undefined', undefined],
  ['null', null],
  ['a number', 5],
  ['a name with a space', 'nightly report'],
  ['a name with braces', 'a{b}'],
  ['a name with a NUL', 'a\u0000b'],
  ['a name with a glob character', 'jobs*'],
  ['a non-ASCII name', 'rapport-été'],
];

/** Every fleet method that takes a job name, with good other arguments. */
const NAMED_CALLS: Array<[method: string, call: (store: LockStore, name: string) => unknown]> = [
  ['inspect', (store, name) => store.inspect(name)],
  ['pause', (store, name) => store.pause!(name, { reason: null, until: null })],
  ['resume', (store, name) => store.resume!(name)],
  ['history', (store, name) => store.history!(name, 5)],
  ['registerJob', (store, name) => store.registerJob!(name, { cron: '0 3 * * *', timeZone: null })],
  ['currentToken', (store, name) => store.currentToken?.(name)],
];

const STORES = builtInStores('store_arguments');

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

  describe('a name no lock can have', () => {
    const cases = BAD_NAMES.flatMap(([nameLabel, name]) =>
      NAMED_CALLS.map(([method, call]) => [method, nameLabel, name, call] as const),
    );

    it.each(cases)(
      'rejects %s() with %s: a CronLockConfigError naming the call and the fix',
      async (method, _nameLabel, name, call) => {
        if (method === 'currentToken' && !store.currentToken) return; // RedisLockStore has none
        const error = await rejectionOf(async () => call(store, name as string));
        expect(error).toBeInstanceOf(CronLockConfigError);
        const message = (error as Error).message;
        expect(message).toContain(`${label}.${method}(`);
        expect(message).toContain('lock name');
        expect(message).toContain('Fix: use 1 to 128 characters');
        expect(message).not.toMatch(DRIVER_WORDS);
      },
    );

    it('keeps none of them: listJobs() names no job but the good one', async () => {
      await store.pause!(JOB, { reason: null, until: null });
      expect(await store.listJobs!()).toEqual([JOB]);
    });
  });
});

describe('PostgresLockStore listJobs() with a row no lock can have', () => {
  const pool = newPool();
  const table = uniqueTable('store_arguments_rows');
  const store = new PostgresLockStore(pool, { table, logger: false });

  afterAll(async () => {
    await store.close();
    await dropTable(pool, table);
    await pool.end();
  });

  it('lists only the names inspect() takes, as RedisLockStore does', async () => {
    await store.pause(JOB, { reason: null, until: null });
    // As a store of an earlier version, called with any name, may have left it.
    await pool.query(
      `INSERT INTO "public"."${table}" (name, state_expires_at)
       VALUES ($1, now() + interval '1 hour'), ($2, now() + interval '1 hour')`,
      ['nightly report', ''],
    );
    const names = await store.listJobs();
    expect(names).toEqual([JOB]);
    await Promise.all(names.map((name) => store.inspect(name)));
  });
});
