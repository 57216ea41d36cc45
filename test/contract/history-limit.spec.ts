// A store's own history(name, limit), called directly (an admin tool, a script), as the three
// built-in stores answer it: the same entries for a good limit, the same CronLockConfigError for
// a bad one, and never a database's own complaint about the number.
import { CronLockConfigError, type LockStore } from 'nestjs-cron-lock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInStores } from '../support/built-in-stores.js';
import { recordRun } from '../support/recorded-run.js';

const JOB = 'history-limit';
const HOUR = 3_600_000;
const FIRST = Date.UTC(2025, 0, 1, 12);

const BAD_LIMITS: Array<[label: string, limit: unknown]> = [
  ['a fraction', 1.5],
  ['a negative number', -1],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['a number past 2^53', 1e21],
  ['a numeric string', '5'],
  ['null', null],
];

const STORES = builtInStores('history_limit');

describe.each(STORES)('$label history(name, limit) called directly', ({ label, build }) => {
  let store: LockStore;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ store, close } = await build());
    for (let i = 0; i < 3; i++) {
      await recordRun(store, { name: JOB, scheduledAt: FIRST + i * HOUR, historySize: 10 });
    }
  }, 30_000);

  afterAll(async () => {
    await close?.();
  });

  it('answers a whole number of entries, and none for 0', async () => {
    expect(await store.history!(JOB, 0)).toEqual([]);
    const two = await store.history!(JOB, 2);
    expect(two.map((entry) => entry.scheduledAt)).toEqual([FIRST + 2 * HOUR, FIRST + HOUR]);
    expect(await store.history!(JOB, Number.MAX_SAFE_INTEGER)).toHaveLength(3);
  });

  it.each(BAD_LIMITS)(
    'rejects %s with a CronLockConfigError naming the call and the fix',
    async (_label, limit) => {
      const error = await store.history!(JOB, limit as number).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(CronLockConfigError);
      const message = (error as Error).message;
      expect(message).toContain(`${label}.history("${JOB}"): limit`);
      expect(message).toContain('Fix: pass a whole number');
      // Nothing of the driver's own words.
      expect(message).not.toMatch(/ReplyError|ERR |SQLSTATE|syntax|bigint/);
    },
  );
});
