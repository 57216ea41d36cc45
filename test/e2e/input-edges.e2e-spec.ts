// Two edges of "bad input fails clearly": ctx.extend() takes no duration a timer cannot hold (a
// longer one would overflow Node's timers and renew every millisecond), and forRoot() given
// something other than an options object throws the module's own configuration error.
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  MAX_DURATION_MS,
  MemoryLockStore,
  type CronLockModuleOptions,
  type Duration,
} from 'nestjs-cron-lock';

describe('ctx.extend()', () => {
  let app: TestingModule;
  let locks: CronLockService;

  beforeAll(async () => {
    app = await Test.createTestingModule({
      imports: [CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false })],
    }).compile();
    await app.init();
    locks = app.get(CronLockService);
  });

  afterAll(() => app.close());

  it.each<Duration>([MAX_DURATION_MS + 1, '30d'])(
    'rejects %s, past what a timer holds, naming the job and the limit, and keeps the lock',
    async (ttl) => {
      const result = await locks.run('extend-bounds', { ttl: '10s' }, async (ctx) => {
        const error = await ctx.extend(ttl).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        return { error, aborted: ctx.signal.aborted };
      });
      expect(result.ran).toBe(true);
      const { error, aborted } = (result as { value: { error: unknown; aborted: boolean } }).value;
      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toContain('extend-bounds');
      expect((error as Error).message).toContain(String(MAX_DURATION_MS));
      expect(aborted).toBe(false);
    },
  );

  it('rejects Infinity as not a duration, naming the job', async () => {
    const result = await locks.run('extend-infinite', { ttl: '10s' }, (ctx) =>
      ctx.extend(Number.POSITIVE_INFINITY).then(
        () => undefined,
        (caught: unknown) => caught,
      ),
    );
    const error = (result as { value: unknown }).value;
    expect(error).toBeInstanceOf(CronLockConfigError);
    expect((error as Error).message).toContain('extend-infinite');
  });

  it('extends to the longest ttl a timer holds without overflowing a timer', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(`${warning.name}: ${warning.message}`);
    };
    process.on('warning', onWarning);
    try {
      const result = await locks.run('extend-longest', { ttl: '10s' }, async (ctx) => {
        await ctx.extend(MAX_DURATION_MS);
        // Node emits the warning of a timer it had to shorten on the next tick.
        await new Promise((resolve) => setImmediate(resolve));
        return {
          ttlLeft: (await locks.inspect('extend-longest')).ttlLeft,
          aborted: ctx.signal.aborted,
        };
      });
      expect(result).toMatchObject({ ran: true, value: { aborted: false } });
      expect((result as { value: { ttlLeft: number } }).value.ttlLeft).toBeGreaterThan(86_400_000);
      expect(warnings.filter((warning) => warning.startsWith('TimeoutOverflowWarning'))).toEqual(
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('still extends by a duration a timer holds', async () => {
    const result = await locks.run('extend-ok', { ttl: '10s' }, async (ctx) => {
      await ctx.extend('1m');
      return (await locks.inspect('extend-ok')).ttlLeft ?? 0;
    });
    expect(result.ran).toBe(true);
    expect((result as { value: number }).value).toBeGreaterThan(10_000);
  });
});

describe('CronLockModule.forRoot()', () => {
  it.each([null, 'redis://localhost', 42])('throws a CronLockConfigError for %s', (options) => {
    expect(() => CronLockModule.forRoot(options as unknown as CronLockModuleOptions)).toThrow(
      CronLockConfigError,
    );
  });
});
