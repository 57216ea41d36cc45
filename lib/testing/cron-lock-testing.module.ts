import { Module, type DynamicModule, type LoggerService } from '@nestjs/common';
import { CRON_LOCK_SCHEDULER_OPTIONAL } from '../cron-lock.constants.js';
import { CronLockModule } from '../cron-lock.module.js';
import type { CronLockModuleOptions } from '../options/module-options.interface.js';
import { MemoryLockStore } from '../stores/memory/memory-lock.store.js';

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
   * The store to lock in. Default: a new `MemoryLockStore` per module. Pass one store to
   * several apps of one test to test several instances against each other.
   */
  store?: MemoryLockStore;
  /** Where the module logs. Default `false` (no logs in test output). */
  logger?: LoggerService | false;
}

/**
 * `CronLockModule` for tests: locks in a {@link MemoryLockStore} (no Redis), logs nothing, and
 * schedules nothing by itself, so jobs run only when the test runs them with
 * {@link runLockedJob} (import `ScheduleModule.forRoot()` too if you want them to fire on the
 * clock). The store is injectable as `MemoryLockStore`:
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
  static forRoot(options: CronLockTestingOptions = {}): DynamicModule {
    const { store = new MemoryLockStore(), logger = false, ...moduleOptions } = options;
    return {
      module: CronLockTestingModule,
      global: true,
      imports: [CronLockModule.forRoot({ ...moduleOptions, store, logger })],
      providers: [
        { provide: MemoryLockStore, useValue: store },
        // @LockedCron refuses to bootstrap without a scheduler (it would never run). Here nothing
        // has to fire on the clock: the test may run jobs with runLockedJob() instead.
        { provide: CRON_LOCK_SCHEDULER_OPTIONAL, useValue: true },
      ],
      exports: [MemoryLockStore, CRON_LOCK_SCHEDULER_OPTIONAL],
    };
  }
}
