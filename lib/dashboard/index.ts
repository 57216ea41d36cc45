export { CronLockDashboardModule } from './dashboard.module.js';
export type { CronLockDashboardOptions } from './dashboard.options.js';
export type {
  DashboardHistoryEntry,
  DashboardJob,
  DashboardSnapshot,
  JobStatus,
} from './dashboard.types.js';
