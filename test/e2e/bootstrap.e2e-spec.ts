// Guarantee 10: bad input fails at bootstrap, clearly. Every case boots a real Nest app and
// expects `compile()` + `init()` to reject with a CronLockConfigError that names the job as
// `Class.method` (or the module option) and says how to fix it; every area also has a valid
// configuration that boots and runs, so a check that rejected everything would fail here too.
import { Injectable, Module, type ModuleMetadata, type Type } from '@nestjs/common';
import { Cron, CronExpression, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLock,
  CronLockConfigError,
  CronLockModule,
  type CronLockOptions,
  CronLockService,
  LockedCron,
  type CronLockModuleOptions,
  type Duration,
  type LockContext,
  type LockedCronOptions,
  MemoryLockStore,
} from 'nestjs-cron-lock';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';

/** Never fires during a test: valid configurations are exercised by calling the method. */
const YEARLY = '0 0 1 1 *';

const booted: TestingModule[] = [];

afterEach(async () => {
  await Promise.all(booted.splice(0).map((ref) => ref.close()));
});

/**
 * An app with both modules. The lock store is always chosen explicitly: the options' own, else
 * the test Redis when they set a keyPrefix (which only a Redis store uses), else a memory store.
 */
function appWith(providers: Type[], options: CronLockModuleOptions = {}): ModuleMetadata {
  return {
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({ logger: false, ...storeFor(options), ...options }),
    ],
    providers,
  };
}

function storeFor(options: CronLockModuleOptions): CronLockModuleOptions {
  if ('redis' in options || 'store' in options) {
    return {};
  }
  return 'keyPrefix' in options ? { redis: testRedisUrl() } : { store: new MemoryLockStore() };
}

async function boot(metadata: ModuleMetadata): Promise<TestingModule> {
  const ref = await Test.createTestingModule(metadata).compile();
  booted.push(ref);
  await ref.init();
  return ref;
}

/** Boots `metadata` and returns what `compile()` or `init()` rejected with. */
async function bootstrapError(metadata: ModuleMetadata): Promise<Error> {
  let ref: TestingModule | undefined;
  try {
    ref = await Test.createTestingModule(metadata).compile();
    await ref.init();
  } catch (error) {
    await ref?.close().catch(() => undefined);
    return error as Error;
  }
  await ref.close();
  throw new Error('expected the app to fail at bootstrap, but it booted');
}

/** The error is a CronLockConfigError whose message names every fragment and the fix. */
function expectConfigError(error: Error, ...fragments: string[]): void {
  expect(error).toBeInstanceOf(CronLockConfigError);
  for (const fragment of fragments) {
    expect(error.message).toContain(fragment);
  }
  expect(error.message).toContain('Fix:');
}

/** Calls a locked method as application code would; the lock supplies its context. */
function callLocked<T>(
  instance: object,
  method: (ctx: LockContext) => Promise<T>,
): Promise<T | undefined> {
  return (method as unknown as (this: object) => Promise<T | undefined>).call(instance);
}

/** A one-method job class with the given schedule and options, named `className`. */
function jobClass(className: string, cronTime: string, options?: Duration | LockedCronOptions) {
  @Injectable()
  class Job {
    @LockedCron(cronTime, options)
    async work(ctx: LockContext): Promise<string> {
      return `ran ${ctx.name} fence ${ctx.fencingToken}`;
    }
  }
  Object.defineProperty(Job, 'name', { value: className });
  return Job;
}

describe('bootstrap validation', () => {
  describe('cron expression', () => {
    it.each(['not a cron', '* * * *', '61 * * * *', '* * * * * * * *'])(
      'rejects the invalid expression %j naming the job',
      async (cronTime) => {
        const error = await bootstrapError(appWith([jobClass('BadCron', cronTime)]));
        expectConfigError(
          error,
          'BadCron.work',
          'invalid cron expression',
          JSON.stringify(cronTime),
        );
      },
    );

    it.each([YEARLY, '0 0 0 1 1 *', CronExpression.EVERY_HOUR])(
      'boots with the valid expression %j',
      async (cronTime) => {
        const Job = jobClass('GoodCron', cronTime);
        const ref = await boot(appWith([Job]));
        const job = ref.get(Job);
        expect(await callLocked(job, job.work)).toBe('ran GoodCron.work fence 1');
      },
    );
  });

  describe('ttl', () => {
    it.each([0, -1, -5_000, 'abc', '5x', '', '1.5', NaN])(
      'rejects ttl %j naming the job',
      async (ttl) => {
        const error = await bootstrapError(
          appWith([jobClass('BadTtl', YEARLY, { ttl: ttl as Duration })]),
        );
        expectConfigError(error, 'BadTtl.work', 'ttl', 'not a positive duration');
      },
    );

    it.each<[string, LockedCronOptions | Duration]>([
      ["ttl '30d'", { ttl: '30d' }],
      ["ttl '100d' as the second argument", '100d'],
      ["ttl '1000000000000d'", { ttl: '1000000000000d' }],
      ['ttl 2 ** 31 ms', { ttl: 2 ** 31 }],
      ["minHold '25d' (ttl '24d')", { ttl: '24d', minHold: '25d' }],
    ])(
      'rejects %s, past what a timer holds, naming the job and the limit',
      async (_label, options) => {
        const error = await bootstrapError(appWith([jobClass('TimerOverflow', YEARLY, options)]));
        expectConfigError(error, 'TimerOverflow.work', '2147483647ms');
        expect(error.message).toMatch(/ttl|minHold/);
      },
    );

    it('boots with the longest ttl a timer holds, 2 ** 31 - 1 ms', async () => {
      const Job = jobClass('LongestTtl', YEARLY, { ttl: 2 ** 31 - 1, minHold: '24d' });
      const ref = await boot(appWith([Job]));
      const job = ref.get(Job);
      expect(await callLocked(job, job.work)).toBe('ran LongestTtl.work fence 1');
    });

    it('rejects a bad ttl given as the second argument of @LockedCron', async () => {
      const error = await bootstrapError(
        appWith([jobClass('BadShortTtl', YEARLY, '5x' as Duration)]),
      );
      expectConfigError(error, 'BadShortTtl.work', '"5x"');
    });

    it.each([1, 1_000, '500ms', '1.5s', '5m', '1h', '1d'])('boots with ttl %j', async (ttl) => {
      const Job = jobClass('GoodTtl', YEARLY, ttl as Duration);
      const ref = await boot(appWith([Job]));
      const job = ref.get(Job);
      expect(await callLocked(job, job.work)).toBe('ran GoodTtl.work fence 1');
    });
  });

  describe('minHold', () => {
    it('rejects minHold longer than ttl naming the job and both values', async () => {
      const error = await bootstrapError(
        appWith([jobClass('LongHold', YEARLY, { ttl: '5s', minHold: '10s' })]),
      );
      expectConfigError(error, 'LongHold.work', 'minHold (10000ms)', 'ttl (5000ms)');
    });

    it('rejects minHold longer than the default ttl when the job sets no ttl', async () => {
      const error = await bootstrapError(
        appWith([jobClass('LongHoldDefault', YEARLY, { minHold: '2s' })], { defaultTtl: '1s' }),
      );
      expectConfigError(error, 'LongHoldDefault.work', 'minHold');
    });

    it('rejects an unparsable minHold', async () => {
      const error = await bootstrapError(
        appWith([jobClass('BadHold', YEARLY, { ttl: '5s', minHold: 'soon' as Duration })]),
      );
      expectConfigError(error, 'BadHold.work', 'minHold');
    });

    it('boots with minHold equal to ttl', async () => {
      const Job = jobClass('EqualHold', YEARLY, { ttl: '5s', minHold: '5s' });
      const ref = await boot(appWith([Job]));
      const job = ref.get(Job);
      expect(await callLocked(job, job.work)).toBe('ran EqualHold.work fence 1');
    });
  });

  describe('lock names', () => {
    it('rejects two methods of different classes sharing one lock name, naming both', async () => {
      const First = jobClass('FirstOwner', YEARLY, { name: 'shared-name' });
      const Second = jobClass('SecondOwner', YEARLY, { name: 'shared-name' });
      const error = await bootstrapError(appWith([First, Second]));
      expectConfigError(error, 'FirstOwner.work', 'SecondOwner.work', '"shared-name"');
    });

    it('rejects a shared lock name the same way when CronLockModule is imported first', async () => {
      const First = jobClass('LockFirstOwner', YEARLY, { name: 'shared-again' });
      const Second = jobClass('LockSecondOwner', YEARLY, { name: 'shared-again' });
      const error = await bootstrapError({
        imports: [
          CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false }),
          ScheduleModule.forRoot(),
        ],
        providers: [First, Second],
      });
      expectConfigError(error, 'LockFirstOwner.work', 'LockSecondOwner.work', '"shared-again"');
    });

    it('rejects two methods of one class sharing one lock name, naming both', async () => {
      @Injectable()
      class TwoMethods {
        @LockedCron(YEARLY, { name: 'one-name' })
        async first(): Promise<void> {}

        @LockedCron(CronExpression.EVERY_HOUR, { name: 'one-name' })
        async second(): Promise<void> {}
      }
      const error = await bootstrapError(appWith([TwoMethods]));
      expectConfigError(error, 'TwoMethods.first', 'TwoMethods.second', '"one-name"');
    });

    it('rejects a name equal to the default name of another method', async () => {
      const Default = jobClass('DefaultNamed', YEARLY);
      const Clash = jobClass('Clashing', YEARLY, { name: 'DefaultNamed.work' });
      const error = await bootstrapError(appWith([Default, Clash]));
      expectConfigError(error, 'DefaultNamed.work', 'Clashing.work');
    });

    it('boots two methods with distinct names', async () => {
      const First = jobClass('DistinctA', YEARLY, { name: 'distinct-a' });
      const Second = jobClass('DistinctB', YEARLY, { name: 'distinct-b' });
      const ref = await boot(appWith([First, Second]));
      const names = (await ref.get(CronLockService).inspect()).map((state) => state.name);
      expect(names).toEqual(['distinct-a', 'distinct-b']);
    });

    it.each(['a\tb', 'x{y}', 'a*', 'a?', 'job[1]', 'x'.repeat(129), '', 'naïve', 'a\nb'])(
      'rejects the lock name %j naming the job',
      async (name) => {
        const error = await bootstrapError(appWith([jobClass('BadName', YEARLY, { name })]));
        expectConfigError(error, 'BadName.work', 'lock name', JSON.stringify(name));
      },
    );

    it('rejects a lock name that is not a string', async () => {
      const error = await bootstrapError(
        appWith([jobClass('NumberName', YEARLY, { name: 42 as unknown as string })]),
      );
      expectConfigError(error, 'NumberName.work', 'name');
    });

    it.each(['x'.repeat(128), 'Az09._:-', 'reports:hourly.v2'])(
      'boots with the lock name %j',
      async (name) => {
        const Job = jobClass('GoodName', YEARLY, { name });
        const ref = await boot(appWith([Job]));
        const job = ref.get(Job);
        expect(await callLocked(job, job.work)).toBe(`ran ${name} fence 1`);
      },
    );
  });

  describe('job options', () => {
    it.each<[string, Record<string, unknown>, string]>([
      ['tll', { tll: '1h' }, 'ttl'],
      ['timezone', { timezone: 'Asia/Tokyo' }, 'timeZone'],
      ['minhold', { ttl: '1m', minhold: '10s' }, 'minHold'],
      ['renw', { renew: false, renw: true }, 'renew'],
      ['utcoffset', { utcoffset: 60 }, 'utcOffset'],
    ])(
      'rejects the misspelt key %s, suggesting the right one',
      async (key, options, suggestion) => {
        const error = await bootstrapError(
          appWith([jobClass('Misspelt', YEARLY, options as LockedCronOptions)]),
        );
        expectConfigError(
          error,
          'Misspelt.work',
          `unknown option ${key}`,
          `did you mean ${suggestion}?`,
        );
      },
    );

    it('rejects an unknown key unlike any option, listing the options', async () => {
      const error = await bootstrapError(
        appWith([jobClass('Unknown', YEARLY, { retries: 3 } as LockedCronOptions)]),
      );
      expectConfigError(error, 'Unknown.work', 'unknown option retries', 'ttl', 'timeZone');
      expect(error.message).not.toContain('did you mean');
    });

    it.each<[string, Record<string, unknown>]>([
      ['renew', { renew: 'false' }],
      ['disabled', { disabled: 1 }],
      ['name', { name: 42 }],
      ['waitForCompletion', { waitForCompletion: 'yes' }],
      ['unrefTimeout', { unrefTimeout: 0 }],
      ['initialDelay', { initialDelay: -1 }],
      ['initialDelay', { initialDelay: '5s' }],
      ['initialDelay', { initialDelay: 2 ** 31 }],
      ['threshold', { threshold: Number.NaN }],
      ['utcOffset', { utcOffset: '60' }],
    ])(
      'rejects a wrong type or range for %s, naming the job and the option',
      async (option, options) => {
        const error = await bootstrapError(
          appWith([jobClass('WrongType', YEARLY, options as LockedCronOptions)]),
        );
        expectConfigError(error, 'WrongType.work', option);
      },
    );

    // `{ timeZone: config.get('TZ') }` with the variable unset: the job must not run in the
    // process's zone (or without its ttl, catch-up or overlap policy) behind the operator's back.
    it.each([
      'ttl',
      'name',
      'renew',
      'minHold',
      'timeZone',
      'utcOffset',
      'disabled',
      'initialDelay',
      'waitForCompletion',
      'threshold',
      'unrefTimeout',
      'catchUp',
      'catchUpWindow',
      'overlap',
    ])('rejects %s present but undefined instead of taking its default', async (option) => {
      const error = await bootstrapError(
        appWith([jobClass('UnsetOption', YEARLY, { [option]: undefined } as LockedCronOptions)]),
      );
      expectConfigError(error, 'UnsetOption.work', `option ${option}`, 'undefined');
    });

    it.each<[string, number]>([
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
    ])('reports a ttl of %s as such', async (shown, ttl) => {
      const error = await bootstrapError(appWith([jobClass('NonFinite', YEARLY, { ttl })]));
      expectConfigError(error, 'NonFinite.work', `ttl ${shown}`);
    });

    it("boots with every key of @nestjs/schedule's CronOptions", async () => {
      const Job = jobClass('CronOptionKeys', YEARLY, {
        ttl: '5s',
        name: 'cron-option-keys',
        timeZone: 'UTC',
        disabled: false,
        initialDelay: 0,
        waitForCompletion: true,
        threshold: 250,
        unrefTimeout: false,
      } as LockedCronOptions);
      const ref = await boot(appWith([Job]));
      const job = ref.get(Job);
      expect(await callLocked(job, job.work)).toBe('ran cron-option-keys fence 1');
    });

    it('rejects a misspelt key of @CronLock next to @Cron', async () => {
      @Injectable()
      class ByHand {
        @Cron(YEARLY)
        @CronLock({ tll: '1m' } as CronLockOptions)
        async work(): Promise<void> {}
      }
      const error = await bootstrapError(appWith([ByHand]));
      expectConfigError(error, 'ByHand.work', 'unknown option tll', 'did you mean ttl?');
    });
  });

  describe('time zones', () => {
    it('rejects timeZone and utcOffset together', async () => {
      const error = await bootstrapError(
        appWith([jobClass('BothZones', YEARLY, { timeZone: 'Europe/Paris', utcOffset: 60 })]),
      );
      expectConfigError(error, 'BothZones.work', 'timeZone', 'utcOffset');
    });

    it('rejects an unknown timeZone naming the zone', async () => {
      const error = await bootstrapError(
        appWith([jobClass('BadZone', YEARLY, { timeZone: 'Mars/Olympus_Mons' })]),
      );
      expectConfigError(error, 'BadZone.work', 'Mars/Olympus_Mons');
    });

    // Hours where minutes are meant (5.5 for +05:30), or past what `cron` reads (±99:59): the
    // option is wrong, not the expression, and the message must say so.
    it.each([5.5, 330.5, 6000, -6000])(
      'rejects utcOffset %j naming the option and its range, not the expression',
      async (utcOffset) => {
        const error = await bootstrapError(appWith([jobClass('OddOffset', YEARLY, { utcOffset })]));
        expectConfigError(error, 'OddOffset.work', 'utcOffset', 'whole number of minutes');
        expect(error.message).not.toContain('cron expression');
      },
    );

    it.each([
      { timeZone: 'Europe/Paris' },
      { timeZone: 'UTC' },
      { utcOffset: 120 },
      { utcOffset: -330 },
      { utcOffset: 5999 },
    ])('boots with %j', async (zone) => {
      const Job = jobClass('GoodZone', YEARLY, zone);
      const ref = await boot(appWith([Job]));
      const job = ref.get(Job);
      expect(await callLocked(job, job.work)).toBe('ran GoodZone.work fence 1');
    });
  });

  describe('one-shot dates', () => {
    /** A one-method job class run once at `at`, named `className`. */
    function oneShotClass(className: string, at: Date, options: LockedCronOptions) {
      @Injectable()
      class OneShot {
        @LockedCron(at, options)
        async work(ctx: LockContext): Promise<string> {
          return `ran ${ctx.name}`;
        }
      }
      Object.defineProperty(OneShot, 'name', { value: className });
      return OneShot;
    }
    const inAnHour = (): Date => new Date(Date.now() + 3_600_000);

    it.each<[string, LockedCronOptions, string[]]>([
      ["timeZone ''", { timeZone: '' }, ['timeZone', '""']],
      ['an unknown timeZone', { timeZone: 'Mars/Olympus_Mons' }, ['Mars/Olympus_Mons']],
      ['timeZone and utcOffset', { timeZone: 'Europe/Paris', utcOffset: 60 }, ['utcOffset']],
      ['utcOffset as a string', { utcOffset: '60' as unknown as number }, ['utcOffset', '"60"']],
    ])('rejects %s on a one-shot date as on an expression', async (_label, options, fragments) => {
      const error = await bootstrapError(
        appWith([oneShotClass('OneShotZone', inAnHour(), options)]),
      );
      expectConfigError(error, 'OneShotZone.work', ...fragments);
    });

    it('rejects a one-shot date that has passed, naming the date', async () => {
      const at = new Date(Date.now() - 60_000);
      const error = await bootstrapError(appWith([oneShotClass('PastOneShot', at, {})]));
      expectConfigError(error, 'PastOneShot.work', at.toISOString(), 'has passed');
    });

    it('rejects a one-shot date that comes before its initialDelay ends', async () => {
      // @nestjs/schedule would start the job after the delay, and `cron` would throw out of
      // that timer, past the date: an uncaught exception in a running app.
      const at = new Date(Date.now() + 60_000);
      const error = await bootstrapError(
        appWith([oneShotClass('DelayedOneShot', at, { initialDelay: 120_000 })]),
      );
      expectConfigError(error, 'DelayedOneShot.work', at.toISOString(), 'initialDelay');
    });

    it.each<[string, LockedCronOptions, () => Date]>([
      ['timeZone', { timeZone: 'Europe/Paris' }, inAnHour],
      ['utcOffset', { utcOffset: -330 }, inAnHour],
      ['an initialDelay that ends before it', { initialDelay: 1_000 }, inAnHour],
      // As with @Cron: a disabled job is not started, so its date is not read until start().
      ['disabled: true, its date passed', { disabled: true }, () => new Date(Date.now() - 60_000)],
    ])('boots a one-shot date with %s', async (_label, options, at) => {
      const Job = oneShotClass('GoodOneShot', at(), options);
      const ref = await boot(appWith([Job]));
      const job = ref.get(Job);
      expect(await callLocked(job, job.work)).toBe('ran GoodOneShot.work');
    });
  });

  describe('modules', () => {
    it('rejects an app that imports ScheduleModule but not CronLockModule', async () => {
      // A class of its own: whether a method was bound is remembered per method.
      @Injectable()
      class WithoutLockModule {
        @LockedCron(YEARLY)
        async orphan(): Promise<void> {}
      }
      const error = await bootstrapError({
        imports: [ScheduleModule.forRoot()],
        providers: [WithoutLockModule],
      });
      expectConfigError(
        error,
        'WithoutLockModule.orphan',
        'CronLockModule is not imported',
        'CronLockModule.forRoot',
      );
    });

    it('rejects a second app without CronLockModule after a first app bound the same class', async () => {
      // Declared under its own name: the message names the class that declared the method.
      @Injectable()
      class BoundThenOrphaned {
        @LockedCron(YEARLY)
        async work(ctx: LockContext): Promise<string> {
          return `ran ${ctx.name} fence ${ctx.fencingToken}`;
        }
      }
      const Job = BoundThenOrphaned;
      const first = await boot(appWith([Job]));
      const error = await bootstrapError({ imports: [ScheduleModule.forRoot()], providers: [Job] });
      expectConfigError(error, 'BoundThenOrphaned.work', 'CronLockModule is not imported');

      // The first app keeps running its job, and a later app with the module boots.
      const job = first.get(Job);
      expect(await callLocked(job, job.work)).toBe('ran BoundThenOrphaned.work fence 1');
      const third = await boot(appWith([Job]));
      const thirdJob = third.get(Job);
      expect(await callLocked(thirdJob, thirdJob.work)).toBe('ran BoundThenOrphaned.work fence 1');
    });

    it('rejects an app without CronLockModule while another app of the class is still open', async () => {
      @Injectable()
      class OpenElsewhere {
        @LockedCron(YEARLY, { name: 'open-elsewhere' })
        async work(): Promise<void> {}
      }
      const Job = OpenElsewhere;
      await boot(appWith([Job]));
      await boot(appWith([Job]));
      const error = await bootstrapError({ imports: [ScheduleModule.forRoot()], providers: [Job] });
      expectConfigError(error, 'OpenElsewhere.work', 'CronLockModule is not imported');
    });

    it.each<[string, unknown]>([
      ['no options', undefined],
      ['none of useFactory, useClass, useExisting', { imports: [] }],
      ['useFactory and useClass together', { useFactory: () => ({}), useClass: class {} }],
      ['a useFactory that is not a function', { useFactory: { redis: 'redis://x' } }],
      ['a useClass that is not a class', { useClass: 'OptionsFactory' }],
      ['a misspelt key', { useFactroy: () => ({}) }],
    ])('throws a CronLockConfigError for forRootAsync with %s', (_label, options) => {
      let caught: unknown;
      try {
        CronLockModule.forRootAsync(options as never);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CronLockConfigError);
      expectConfigError(caught as Error, 'CronLockModule.forRootAsync');
    });

    it.each<[string, unknown]>([
      ['a string', 'false'],
      ['a number', 0],
      ['null', null],
      ['present but undefined', undefined],
    ])('throws a CronLockConfigError for isGlobal given as %s', (_label, isGlobal) => {
      // From an environment variable, 'false' made the module global, null made it local and
      // undefined global: each a silent choice the app did not make.
      const store = new MemoryLockStore();
      const calls: Array<[string, () => unknown]> = [
        ['CronLockModule.forRoot', () => CronLockModule.forRoot({ store, isGlobal } as never)],
        [
          'CronLockModule.forRootAsync',
          () => CronLockModule.forRootAsync({ useFactory: () => ({ store }), isGlobal } as never),
        ],
      ];
      for (const [method, call] of calls) {
        let caught: unknown;
        try {
          call();
        } catch (error) {
          caught = error;
        }
        expect(caught, method).toBeInstanceOf(CronLockConfigError);
        expectConfigError(caught as Error, method, 'isGlobal');
      }
    });

    it.each<[string, Record<string, unknown>]>([
      ['imports that is not an array', { imports: {} }],
      ['inject that is not an array', { inject: 'ConfigService' }],
      ['extraProviders that is not an array', { extraProviders: {} }],
    ])('throws a CronLockConfigError for forRootAsync with %s', (label, extra) => {
      let caught: unknown;
      try {
        CronLockModule.forRootAsync({ useFactory: () => ({}), ...extra } as never);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CronLockConfigError);
      expectConfigError(caught as Error, 'CronLockModule.forRootAsync', label.split(' ')[0]!);
    });

    it.each([true, false])(
      'boots with isGlobal %s in forRoot and forRootAsync',
      async (isGlobal) => {
        const sync = await boot({
          imports: [
            ScheduleModule.forRoot(),
            CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false, isGlobal }),
          ],
        });
        const async = await boot({
          imports: [
            ScheduleModule.forRoot(),
            CronLockModule.forRootAsync({
              useFactory: () => ({ store: new MemoryLockStore(), logger: false }),
              isGlobal,
              imports: [],
              inject: [],
              extraProviders: [],
            }),
          ],
        });
        expect(sync.get(CronLockService)).toBeInstanceOf(CronLockService);
        expect(async.get(CronLockService)).toBeInstanceOf(CronLockService);
      },
    );

    it('rejects a forRootAsync factory that returns no options object', async () => {
      const error = await bootstrapError({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRootAsync({ useFactory: () => undefined as never }),
        ],
      });
      expectConfigError(error, 'CronLockModule', 'useFactory');
    });

    it.each(['useClass', 'useExisting'] as const)(
      'rejects a forRootAsync %s whose class has no createCronLockOptions()',
      async (builder) => {
        // Misspelt, as plain JavaScript or a cast lets it through: the options are never built.
        @Injectable()
        class LockOptionsFactory {
          createCronlockOptions(): CronLockModuleOptions {
            return { store: new MemoryLockStore(), logger: false };
          }
        }
        const error = await bootstrapError({
          imports: [
            ScheduleModule.forRoot(),
            CronLockModule.forRootAsync({
              [builder]: LockOptionsFactory as never,
              extraProviders: builder === 'useExisting' ? [LockOptionsFactory] : [],
            }),
          ],
        });
        expectConfigError(
          error,
          'CronLockModule.forRootAsync',
          `${builder} LockOptionsFactory`,
          'createCronLockOptions()',
        );
      },
    );

    it('rejects an app that imports CronLockModule but not ScheduleModule', async () => {
      const error = await bootstrapError({
        imports: [CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false })],
        providers: [jobClass('WithoutScheduler', YEARLY)],
      });
      expectConfigError(error, 'WithoutScheduler.work', 'ScheduleModule.forRoot()');
    });

    it('boots an app that imports both, with the job in a feature module', async () => {
      const Job = jobClass('InFeature', YEARLY);
      @Module({ providers: [Job] })
      class FeatureModule {}
      const ref = await boot({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false }),
          FeatureModule,
        ],
      });
      const job = ref.get(Job);
      expect(await callLocked(job, job.work)).toBe('ran InFeature.work fence 1');
    });

    it('boots CronLockModule without ScheduleModule when no method is scheduled', async () => {
      const ref = await boot({
        imports: [CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false })],
      });
      const result = await ref.get(CronLockService).run('manual-only', {}, () => 'ran');
      expect(result).toMatchObject({ ran: true, value: 'ran' });
    });
  });

  describe('module options', () => {
    it.each<[string, Record<string, unknown>, string]>([
      ['keyPrefix with a brace', { keyPrefix: 'app{1}' }, 'keyPrefix'],
      ['keyPrefix with a space', { keyPrefix: 'my app' }, 'keyPrefix'],
      ['empty keyPrefix', { keyPrefix: '' }, 'keyPrefix'],
      ["onStoreError 'maybe'", { onStoreError: 'maybe' }, 'onStoreError'],
      ["defaultTtl '-1s'", { defaultTtl: '-1s' }, 'defaultTtl'],
      ['defaultTtl 0', { defaultTtl: 0 }, 'defaultTtl'],
      ["shutdownTimeout 'later'", { shutdownTimeout: 'later' }, 'shutdownTimeout'],
      ['an unknown option', { redisUrl: 'redis://localhost' }, 'redisUrl'],
      ['a logger that is not a LoggerService', { logger: 'console' }, 'logger'],
      ['an empty instanceId', { instanceId: '' }, 'instanceId'],
      ['redis not a URL', { redis: 'localhost' }, 'redis'],
      ['a store that is not a LockStore', { store: {} }, 'store'],
      ['keyPrefix with store', { store: new MemoryLockStore(), keyPrefix: 'app-a' }, 'keyPrefix'],
    ])('rejects %s at bootstrap naming the option', async (_label, options, option) => {
      const error = await bootstrapError(
        appWith([jobClass('OptionsJob', YEARLY)], options as CronLockModuleOptions),
      );
      expectConfigError(error, 'CronLockModule', `option ${option}`);
    });

    it('rejects forRoot({ redis: process.env.REDIS_URL }) when the variable is unset', async () => {
      const unset = process.env.CRON_LOCK_TEST_UNSET_VARIABLE;
      const error = await bootstrapError({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({ redis: unset, logger: false }),
        ],
        providers: [jobClass('UnsetRedisJob', YEARLY)],
      });
      expectConfigError(error, 'CronLockModule', 'option redis', 'REDIS_URL');
    });

    it('rejects forRootAsync whose factory returns neither redis nor store', async () => {
      const error = await bootstrapError({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRootAsync({ useFactory: () => ({ logger: false }) }),
        ],
        providers: [jobClass('NoStoreJob', YEARLY)],
      });
      expectConfigError(error, 'CronLockModule', 'redis', 'new MemoryLockStore()');
    });

    it('rejects redis and store together', async () => {
      const error = await bootstrapError(
        appWith([], { redis: 'redis://127.0.0.1:1', store: {} as never } as CronLockModuleOptions),
      );
      expectConfigError(error, 'redis', 'store', 'exclusive');
    });

    it('boots with valid options', async () => {
      const Job = jobClass('GoodOptions', YEARLY);
      const ref = await boot(
        appWith([Job], {
          keyPrefix: `${uniquePrefix('app')}.v2:prod_1-a`,
          onStoreError: 'run',
          defaultTtl: '1m',
          shutdownTimeout: 0,
          instanceId: 'web-1',
        }),
      );
      const job = ref.get(Job);
      // A Redis store (keyPrefix): the first fence is seeded from the server's clock.
      expect(await callLocked(job, job.work)).toMatch(/^ran GoodOptions\.work fence \d+$/);
      expect(ref.get(CronLockService).instanceId).toBe('web-1');
    });
  });

  describe('several apps', () => {
    it('boots the same class in two separate apps, each running it under its own module', async () => {
      const Job = jobClass('TwoApps', YEARLY);
      const first = await boot(appWith([Job], { instanceId: 'first' }));
      const second = await boot(appWith([Job], { instanceId: 'second' }));
      const firstJob = first.get(Job);
      const secondJob = second.get(Job);
      expect(firstJob).not.toBe(secondJob);
      // Each app has its own store, so each runs the occurrence once and holds fence 1.
      expect(await callLocked(firstJob, firstJob.work)).toBe('ran TwoApps.work fence 1');
      expect(await callLocked(secondJob, secondJob.work)).toBe('ran TwoApps.work fence 1');
      // A direct call is a manual run (it claims no occurrence): it runs again, under the lock.
      expect(await callLocked(firstJob, firstJob.work)).toBe('ran TwoApps.work fence 2');
      const [firstState] = await first.get(CronLockService).inspect();
      expect(firstState).toMatchObject({ name: 'TwoApps.work', fencingToken: 2, holder: null });
    });

    it('boots two apps at once whose different classes use the same lock name', async () => {
      const Reports = jobClass('ApiReports', YEARLY, { name: 'nightly-report' });
      const Exports = jobClass('WorkerExports', YEARLY, { name: 'nightly-report' });
      const [api, worker] = await Promise.all([boot(appWith([Reports])), boot(appWith([Exports]))]);
      const reports = api.get(Reports);
      const exports = worker.get(Exports);
      expect(await callLocked(reports, reports.work)).toBe('ran nightly-report fence 1');
      expect(await callLocked(exports, exports.work)).toBe('ran nightly-report fence 1');
    });

    it('registers the job under its lock name in each of two apps booted one after the other', async () => {
      const Reports = jobClass('ApiDigest', YEARLY, { name: 'nightly-digest' });
      const Exports = jobClass('WorkerDigest', YEARLY, { name: 'nightly-digest' });
      const api = await boot(appWith([Reports]));
      const worker = await boot(appWith([Exports]));
      expect(api.get(SchedulerRegistry).getCronJob('nightly-digest')).toBeDefined();
      expect(worker.get(SchedulerRegistry).getCronJob('nightly-digest')).toBeDefined();
    });

    it('keeps bootstrapping the second app after the first one failed', async () => {
      const Job = jobClass('AfterFailure', YEARLY);
      const error = await bootstrapError(appWith([Job], { keyPrefix: 'bad prefix' }));
      expectConfigError(error, 'keyPrefix');
      const ref = await boot(appWith([Job]));
      const job = ref.get(Job);
      expect(await callLocked(job, job.work)).toBe('ran AfterFailure.work fence 1');
    });
  });
});
