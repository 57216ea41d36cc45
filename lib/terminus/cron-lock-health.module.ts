import { Module } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { CronLockHealthIndicator } from './cron-lock.health.js';

/**
 * Provides {@link CronLockHealthIndicator}. Import it in the module of your health controller,
 * next to `TerminusModule` (which provides the `HealthCheckService` the controller calls).
 *
 * @publicApi
 */
@Module({
  // Its own HealthIndicatorService (stateless): importing TerminusModule here would create a
  // second HealthCheckService, with its own logger and shutdown hook, beside the app's.
  providers: [HealthIndicatorService, CronLockHealthIndicator],
  exports: [CronLockHealthIndicator],
})
export class CronLockHealthModule {}
