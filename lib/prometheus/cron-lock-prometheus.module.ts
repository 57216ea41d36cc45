import { Module, type DynamicModule } from '@nestjs/common';
import { CronLockMetrics } from './cron-lock-metrics.recorder.js';
import {
  CRON_LOCK_PROMETHEUS_OPTIONS,
  resolvePrometheusOptions,
  type CronLockPrometheusOptions,
} from './cron-lock-prometheus.options.js';

/**
 * Prometheus metrics of every locked run (prom-client): runs by outcome, skips by reason, lost
 * locks, store errors by operation, run duration, acquire latency, and the locks this instance
 * holds. Import it next to `CronLockModule.forRoot()`; expose the registry on a `/metrics` route.
 *
 * ```ts
 * CronLockPrometheusModule.forRoot()                      // prom-client's global register
 * CronLockPrometheusModule.forRoot({ registry, prefix: 'jobs_' })
 * ```
 *
 * @publicApi
 */
@Module({})
export class CronLockPrometheusModule {
  /** Registers the metrics in `registry` (default: the global register), prefixed `cron_lock_`. */
  static forRoot(options: CronLockPrometheusOptions = {}): DynamicModule {
    return {
      module: CronLockPrometheusModule,
      providers: [
        {
          provide: CRON_LOCK_PROMETHEUS_OPTIONS,
          useFactory: () => resolvePrometheusOptions(options),
        },
        CronLockMetrics,
      ],
      exports: [CronLockMetrics],
    };
  }
}
