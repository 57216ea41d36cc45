import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { CronLockModule } from 'nestjs-cron-lock';
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
            ...instance.lockStore,
            instanceId: instance.instanceId,
            keyPrefix: 'cron-lock-sample',
            // On app.close(), wait this long for a running job before aborting its signal.
            shutdownTimeout: '5s',
            // ReportsService.saveTotals() calls assertLocked(), which needs the run's scope.
            asyncContext: true,
          }),
        }),
      ],
      providers: [ReportsService, LockEventsListener],
    };
  }
}
