export { CronLockPrometheusModule } from './cron-lock-prometheus.module.js';
export { CronLockMetrics } from './cron-lock-metrics.recorder.js';
export type { CronLockMetricSet } from './cron-lock.metrics.js';
export type { CronLockPrometheusOptions } from './cron-lock-prometheus.options.js';
