// CronLockService.run() checks its options as @LockedCron's are checked at bootstrap: the
// returned promise rejects with a CronLockConfigError naming the call and the fix, and the
// callback never runs.
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  MemoryLockStore,
  type RunOptions,
} from 'nestjs-cron-lock';

let app: TestingModule;
let locks: CronLockService;

beforeAll(async () => {
  app = await Test.createTestingModule({
    imports: [CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false })],
  }).compile();
  await app.init();
  locks = app.get(CronLockService);
});

afterAll(async () => {
  await app.close();
});

/** What run() rejected with, after checking the callback never ran. */
async function rejectionOf(options: unknown, name = 'manual-job'): Promise<CronLockConfigError> {
  let ran = false;
  const error = await locks
    .run(name, options as RunOptions, () => {
      ran = true;
    })
    .then(
      () => undefined,
      (caught: unknown) => caught,
    );
  expect(ran).toBe(false);
  expect(error).toBeInstanceOf(CronLockConfigError);
  const message = (error as Error).message;
  expect(message).toContain(`CronLockService.run("${name}")`);
  expect(message).toContain('Fix:');
  return error as CronLockConfigError;
}

describe('CronLockService.run() options', () => {
  describe('durations past what a timer holds (2 ** 31 - 1 ms)', () => {
    it.each<[string, Record<string, unknown>]>([
      ['ttl', { ttl: '30d' }],
      ['ttl', { ttl: 2 ** 31 }],
      ['ttl', { ttl: '1000000000000d' }],
      ['minHold', { ttl: '24d', minHold: '25d' }],
    ])('rejects %s in %o naming the limit', async (option, options) => {
      const error = await rejectionOf(options);
      expect(error.message).toContain(option);
      expect(error.message).toContain('2147483647ms');
    });

    it('runs with the longest ttl a timer holds', async () => {
      const result = await locks.run(
        'longest-ttl',
        { ttl: 2 ** 31 - 1, renew: false },
        () => 'ran',
      );
      expect(result).toMatchObject({ ran: true, value: 'ran' });
    });
  });

  describe('the options object', () => {
    it('runs with the defaults when options are undefined', async () => {
      const result = await locks.run('no-options', undefined, () => 'ran');
      expect(result).toMatchObject({ ran: true, value: 'ran' });
      expect(result.ran && result.ctx.name).toBe('no-options');
    });

    it.each<[string, unknown]>([
      ['null', null],
      ['a string', '5m'],
      ['an array', []],
    ])('rejects options that are %s', async (_label, options) => {
      const error = await rejectionOf(options);
      expect(error.message).toContain('options must be');
    });

    // `{ scheduledAt: job.at }` with `at` unset would drop the once-per-occurrence guarantee.
    it.each(['ttl', 'renew', 'minHold', 'scheduledAt', 'record'])(
      'rejects %s present but undefined instead of taking its default',
      async (key) => {
        const error = await rejectionOf({ [key]: undefined });
        expect(error.message).toContain(`option ${key}`);
        expect(error.message).toContain('undefined');
      },
    );

    it.each<[string, Record<string, unknown>, string]>([
      ['tll', { tll: '1m' }, 'ttl'],
      ['minhold', { minhold: '1s' }, 'minHold'],
      ['scheduledat', { scheduledat: 0 }, 'scheduledAt'],
    ])(
      'rejects the misspelt key %s, suggesting the right one',
      async (key, options, suggestion) => {
        const error = await rejectionOf(options);
        expect(error.message).toContain(`unknown option ${key}`);
        expect(error.message).toContain(`did you mean ${suggestion}?`);
      },
    );

    it.each(['name', 'timeZone', 'disabled'])(
      'rejects %s, which run() does not take',
      async (key) => {
        const error = await rejectionOf({ [key]: key === 'disabled' ? true : 'x' });
        expect(error.message).toContain(`unknown option ${key}`);
      },
    );

    it.each<[string, Record<string, unknown>]>([
      ['renew', { renew: 'false' }],
      ['renew', { renew: 0 }],
      ['ttl', { ttl: true }],
      ['minHold', { minHold: {} }],
    ])('rejects a wrong type for %s', async (option, options) => {
      const error = await rejectionOf(options);
      expect(error.message).toContain(option);
    });

    it.each<[string, number]>([
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
    ])('reports a ttl of %s as such, not as null', async (shown, ttl) => {
      const error = await rejectionOf({ ttl });
      expect(error.message).toContain(`ttl ${shown}`);
      expect(error.message).not.toContain('null');
    });
  });
});
