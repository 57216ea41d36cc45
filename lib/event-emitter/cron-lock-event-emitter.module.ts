import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CronLockEventForwarder } from './cron-lock-event-forwarder.js';
import {
  CRON_LOCK_EVENT_EMITTER_OPTIONS,
  resolveEventEmitterOptions,
  type CronLockEventEmitterOptions,
} from './cron-lock-event-emitter.options.js';

/**
 * Forwards every lock event to `@nestjs/event-emitter` as `cron-lock.<event>`
 * (`cron-lock.acquired`, `cron-lock.skipped`, `cron-lock.lost`, ...). Import it next to
 * `EventEmitterModule.forRoot()` and `CronLockModule.forRoot()`:
 *
 * ```ts
 * imports: [
 *   EventEmitterModule.forRoot(),
 *   CronLockModule.forRoot({ redis: process.env.REDIS_URL }),
 *   CronLockEventEmitterModule.forRoot(),
 * ]
 * ```
 *
 * @publicApi
 */
@Module({})
export class CronLockEventEmitterModule {
  /** Registers the forwarder; `prefix` defaults to `cron-lock`. */
  static forRoot(options: CronLockEventEmitterOptions = {}): DynamicModule {
    return {
      module: CronLockEventEmitterModule,
      // Lists the app's @OnEvent handlers, to reject those whose errors nothing could catch.
      imports: [DiscoveryModule],
      providers: [
        {
          provide: CRON_LOCK_EVENT_EMITTER_OPTIONS,
          useFactory: () => resolveEventEmitterOptions(options),
        },
        CronLockEventForwarder,
      ],
    };
  }
}
