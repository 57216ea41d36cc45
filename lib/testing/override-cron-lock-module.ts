import type { TestingModuleBuilder } from '@nestjs/testing';
import { CRON_LOCK_RAW_OPTIONS } from '../cron-lock.constants.js';
import type { CronLockModuleOptions } from '../options/module-options.interface.js';
import { MemoryLockStore } from '../stores/memory/memory-lock.store.js';
import { checkTestingOptions, type CronLockTestingOptions } from './cron-lock-testing.module.js';

/**
 * Runs an app's own `CronLockModule` (registered with `forRoot` or `forRootAsync`, however its
 * options are built) on a {@link MemoryLockStore}, without Redis and without editing the module:
 * the options the app gives the module are replaced, so its options factory (and what it reads,
 * such as `REDIS_URL`) is never called. Logs nothing unless `logger` is given.
 *
 * ```ts
 * const moduleRef = await overrideCronLockModule(
 *   Test.createTestingModule({ imports: [AppModule] }),
 * ).compile();
 * ```
 *
 * The same without the helper: `.overrideProvider(CRON_LOCK_MODULE_OPTIONS).useValue({ store:
 * new MemoryLockStore() })`.
 *
 * @param builder The result of `Test.createTestingModule(...)`, before `compile()`.
 * @param options The module options to test with (default: a new `MemoryLockStore`, no logs).
 * @returns the same builder, to chain more overrides and `compile()`.
 * @throws `CronLockConfigError` when `options` is not an object (`null`, a string, …), or has
 *   `redis` or `keyPrefix` (pass a store instead).
 * @publicApi
 */
export function overrideCronLockModule(
  builder: TestingModuleBuilder,
  options: CronLockTestingOptions = {},
): TestingModuleBuilder {
  checkTestingOptions('overrideCronLockModule', options);
  const { store = new MemoryLockStore(), logger = false, ...moduleOptions } = options;
  const value: CronLockModuleOptions = { ...moduleOptions, store, logger };
  return builder.overrideProvider(CRON_LOCK_RAW_OPTIONS).useValue(value);
}
