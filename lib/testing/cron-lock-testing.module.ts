import { Module, type DynamicModule, type LoggerService } from '@nestjs/common';
import { CRON_LOCK_SCHEDULER_OPTIONAL } from '../cron-lock.constants.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { CronLockModule } from '../cron-lock.module.js';
import type { CronLockModuleOptions } from '../options/module-options.interface.js';
import type { LockStore } from '../stores/lock-store.interface.js';
import { MemoryLockStore } from '../stores/memory/memory-lock.store.js';
import { describeValue } from '../utils/describe-value.js';

/**
 * Options of {@link CronLockTestingModule.forRoot}: those of `CronLockModule`, without `redis`
 * (and `keyPrefix`, which only a Redis store uses).
 *
 * @publicApi
 */
export interface CronLockTestingOptions extends Omit<
  CronLockModuleOptions,
  'redis' | 'store' | 'logger' | 'keyPrefix'
> {
  /**
   * The store to lock in: a `MemoryLockStore` or any other `LockStore` (a store of your own).
   * Default: a new `MemoryLockStore` per module. Pass one store to several apps of one test to
   * test several instances against each other.
   */
  store?: LockStore;
  /** Where the module logs. Default `false` (no logs in test output). */
  logger?: LoggerService | false;
}

/**
 * `CronLockModule` for tests: locks in a {@link MemoryLockStore} (no Redis), logs nothing, and
 * schedules nothing by itself, so jobs run only when the test runs them with
 * {@link runLockedJob} (import `ScheduleModule.forRoot()` too if you want them to fire on the
 * clock). The store is injectable as `CRON_LOCK_STORE`, and a `MemoryLockStore` also as such:
 *
 * ```ts
 * const moduleRef = await Test.createTestingModule({
 *   imports: [CronLockTestingModule.forRoot()],
 *   providers: [ReportsService],
 * }).compile();
 * await moduleRef.init();
 * const result = await runLockedJob(moduleRef, 'ReportsService.hourly');
 * const store = moduleRef.get(MemoryLockStore);
 * ```
 *
 * @publicApi
 */
@Module({})
export class CronLockTestingModule {
  /**
   * @param options The module's options for the test (default: a new store, no logs).
   * @throws {@link CronLockConfigError} when `options` is not an object (`null`, a string, …), or
   *   has `redis` or `keyPrefix` (pass a store instead).
   */
  static forRoot(options: CronLockTestingOptions = {}): DynamicModule {
    checkTestingOptions('CronLockTestingModule.forRoot', options);
    const { store = new MemoryLockStore(), logger = false, ...moduleOptions } = options;
    // Another store under the MemoryLockStore token would answer `get(MemoryLockStore)` with an
    // object lacking that class's methods: only a memory store is provided as one.
    const memory = store instanceof MemoryLockStore ? [MemoryLockStore] : [];
    const asMemory = memory.map((token) => ({ provide: token, useValue: store }));
    return {
      module: CronLockTestingModule,
      global: true,
      imports: [CronLockModule.forRoot({ ...moduleOptions, store, logger })],
      providers: [
        ...asMemory,
        // @LockedCron refuses to bootstrap without a scheduler (it would never run). Here nothing
        // has to fire on the clock: the test may run jobs with runLockedJob() instead.
        { provide: CRON_LOCK_SCHEDULER_OPTIONAL, useValue: true },
      ],
      exports: [...memory, CRON_LOCK_SCHEDULER_OPTIONAL],
    };
  }
}

/**
 * Fixes for the two `CronLockModule` options the testing module leaves out: forwarded, they would
 * fail with `CronLockModule`'s own advice (pass `redis` instead of `store`), which a test cannot take.
 */
const NOT_TESTING_OPTIONS: Record<string, string> = {
  redis:
    'the testing module locks in its store option (default: a new MemoryLockStore). ' +
    'Fix: pass { store: new RedisLockStore(redis) } to test against Redis, or remove redis.',
  keyPrefix:
    'the store names its own keys. ' +
    'Fix: give the prefix to the store (new RedisLockStore(redis, { keyPrefix })) and remove keyPrefix here.',
};

/**
 * Throws {@link CronLockConfigError} unless `options` is an object: untyped callers can pass
 * anything, destructuring `null` throws a bare TypeError, and a string or an array would be spread
 * into options named `0`, `1`, …. Also refuses `redis` and `keyPrefix`, naming the fix.
 */
export function checkTestingOptions(call: string, options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CronLockConfigError(
      `${call}: the options must be an object, got ${describeValue(options)}. ` +
        "Fix: pass e.g. { instanceId: 'a' } or { store }, or leave the argument out.",
    );
  }
  for (const [name, why] of Object.entries(NOT_TESTING_OPTIONS)) {
    if (Object.hasOwn(options, name)) {
      throw new CronLockConfigError(`${call}: takes no option ${name}: ${why}`);
    }
  }
}
