import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { CronLockModule } from 'nestjs-cron-lock';
import { CronLockDashboardModule } from 'nestjs-cron-lock/dashboard';
import { DigestService } from './digest.service.js';
import { InstanceConfig, InstanceConfigModule } from './instance.config.js';
import { LockEventsListener } from './lock-events.listener.js';
import { ReportsService } from './reports.service.js';

/**
 * The sample app: `ScheduleModule` schedules the jobs on every instance, `CronLockModule` makes
 * each occurrence run on one of them.
 */
@Module({})
export class AppModule {
  static forInstance(config: InstanceConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        InstanceConfigModule.register(config),
        ScheduleModule.forRoot(),
        CronLockModule.forRootAsync({
          inject: [InstanceConfig],
          useFactory: (instance: InstanceConfig) => ({
            // The store is always chosen explicitly: a Redis URL, or the shared in-memory store.
            // A key prefix belongs to Redis (a store passed in names its own keys).
            ...('redis' in instance.lockStore
              ? { redis: instance.lockStore.redis, keyPrefix: 'cron-lock-sample' }
              : { store: instance.lockStore.store }),
            instanceId: instance.instanceId,
            // On app.close(), wait this long for a running job before aborting its signal.
            shutdownTimeout: '5s',
            // ReportsService.saveTotals() calls assertLocked(), which needs the run's scope.
            asyncContext: true,
          }),
        }),
        // Served by the instance that listens on HTTP (see instance.ts); read-only, so no guard.
        CronLockDashboardModule.forRoot({ path: '/cron-lock' }),
      ],
      providers: [ReportsService, DigestService, LockEventsListener],
    };
  }
}
