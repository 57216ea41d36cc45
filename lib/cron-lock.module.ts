import { Module, type DynamicModule, type Provider, type Type } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import {
  CRON_LOCK_OPTIONS,
  CRON_LOCK_RAW_OPTIONS,
  CRON_LOCK_RESOLVED_STORE,
  CRON_LOCK_STORE,
} from './cron-lock.constants.js';
import { CronLockConfigError } from './cron-lock.errors.js';
import { FOR_ROOT_NOT_OBJECT } from './cron-lock.messages.js';
import { CronLockExplorer } from './cron-lock.explorer.js';
import { CronLockRegistry } from './cron-lock.registry.js';
import { RunObserver } from './observer/run-observer.js';
import { LockRunner } from './runner/runner.js';
import { TriggerDispatcher } from './runner/trigger-dispatcher.js';
import { RunTracker } from './runner/run-tracker.js';
import {
  checkAsyncOptions,
  checkIsGlobal,
  optionsFromFactory,
  resolveModuleOptions,
} from './options/module-options.js';
import { CronLockService } from './cron-lock.service.js';
import { resolveStore, type ResolvedStore } from './stores/store-factory.js';
import { provideTwins } from './utils/build-twins.js';
import type {
  CronLockModuleAsyncOptions,
  CronLockModuleOptions,
  CronLockOptionsFactory,
} from './options/module-options.interface.js';

/** The classes an app (or an integration) injects, as the other build of the package names them. */
const SHARED_CLASSES = new Map<string, Type>([
  ['CronLockService', CronLockService],
  ['CronLockRegistry', CronLockRegistry],
]);

/**
 * Locks every `@LockedCron`/`@CronLock` method of the app. Import it once, next to
 * `ScheduleModule.forRoot()` (in either order). Global unless `isGlobal: false`.
 *
 * @publicApi
 */
@Module({})
export class CronLockModule {
  /**
   * Registers the module with static options (`isGlobal` defaults to `true`).
   *
   * ```ts
   * CronLockModule.forRoot({ redis: process.env.REDIS_URL, defaultTtl: '1m' })
   * ```
   */
  static forRoot(options: CronLockModuleOptions & { isGlobal?: boolean } = {}): DynamicModule {
    // Untyped callers can pass anything; destructuring null would throw a bare TypeError.
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new CronLockConfigError(FOR_ROOT_NOT_OBJECT(options));
    }
    const isGlobal = checkIsGlobal('CronLockModule.forRoot', options);
    const { isGlobal: _isGlobal, ...moduleOptions } = options;
    return this.build([{ provide: CRON_LOCK_RAW_OPTIONS, useValue: moduleOptions }], [], isGlobal);
  }

  /**
   * Registers the module with options built at bootstrap, e.g. from `ConfigService`:
   *
   * ```ts
   * CronLockModule.forRootAsync({
   *   imports: [ConfigModule],
   *   inject: [ConfigService],
   *   useFactory: (config: ConfigService) => ({ redis: config.getOrThrow('REDIS_URL') }),
   * })
   * ```
   *
   * @throws {@link CronLockConfigError} unless exactly one of `useFactory`, `useClass` or
   *   `useExisting` is given, of the right kind, and no unknown key. `app.init()` rejects with one
   *   when the options built are not valid, or the class has no `createCronLockOptions()`.
   */
  static forRootAsync(options: CronLockModuleAsyncOptions): DynamicModule {
    checkAsyncOptions(options);
    const providers: Provider[] = [...(options.extraProviders ?? [])];
    if (options.useFactory) {
      providers.push({
        provide: CRON_LOCK_RAW_OPTIONS,
        useFactory: options.useFactory as (...args: unknown[]) => CronLockModuleOptions,
        inject: options.inject ?? [],
      });
    } else {
      // checkAsyncOptions made sure exactly one of the three is set.
      const builder = options.useClass ? 'useClass' : 'useExisting';
      const factoryClass = (options.useClass ?? options.useExisting)!;
      if (options.useClass) {
        providers.push({ provide: options.useClass, useClass: options.useClass });
      }
      providers.push({
        provide: CRON_LOCK_RAW_OPTIONS,
        useFactory: (factory: CronLockOptionsFactory) =>
          optionsFromFactory(factory, builder, factoryClass.name),
        inject: [factoryClass],
      });
    }
    return this.build(providers, options.imports ?? [], options.isGlobal ?? true);
  }

  private static build(
    optionProviders: Provider[],
    imports: NonNullable<CronLockModuleAsyncOptions['imports']>,
    isGlobal: boolean,
  ): DynamicModule {
    // The same service and registry under the classes of the package's other build, when the
    // process loads both (an ES module app with a CommonJS library of jobs, or the reverse).
    return provideTwins(this.module(optionProviders, imports, isGlobal), SHARED_CLASSES);
  }

  private static module(
    optionProviders: Provider[],
    imports: NonNullable<CronLockModuleAsyncOptions['imports']>,
    isGlobal: boolean,
  ): DynamicModule {
    return {
      module: CronLockModule,
      global: isGlobal,
      imports: [DiscoveryModule, ...imports],
      providers: [
        ...optionProviders,
        {
          provide: CRON_LOCK_OPTIONS,
          useFactory: resolveModuleOptions,
          inject: [CRON_LOCK_RAW_OPTIONS],
        },
        // Built after the options provider, so a bad option fails before anything connects.
        {
          provide: CRON_LOCK_RESOLVED_STORE,
          useFactory: resolveStore,
          inject: [CRON_LOCK_RAW_OPTIONS, CRON_LOCK_OPTIONS],
        },
        {
          provide: CRON_LOCK_STORE,
          useFactory: (resolved: ResolvedStore) => resolved.store,
          inject: [CRON_LOCK_RESOLVED_STORE],
        },
        RunObserver,
        RunTracker,
        LockRunner,
        CronLockRegistry,
        CronLockExplorer,
        TriggerDispatcher,
        CronLockService,
      ],
      // The options are exported for the dashboard's logger, the registry for its list of this
      // app's job names (read without a store call per name); neither is public API.
      exports: [CronLockService, CRON_LOCK_STORE, CRON_LOCK_OPTIONS, CronLockRegistry],
    };
  }
}
