/* Messages of CronLockDashboardModule (nestjs-cron-lock/dashboard). */
import { describeValue } from '../utils/describe-value.js';

const DASHBOARD = 'CronLockDashboardModule.forRoot';

export const DASHBOARD_NOT_AN_OBJECT = (value: unknown): string =>
  `${DASHBOARD}: expected an options object, got ${describeValue(value)}. ` +
  `Fix: pass { path: '/cron-lock' } (and guard, actions as needed).`;

export const DASHBOARD_UNKNOWN_OPTION = (key: string): string =>
  `${DASHBOARD}: unknown option "${key}". Fix: use path, guard, actions, imports, refreshInterval, historyLimit.`;

export const DASHBOARD_INVALID_PATH = (path: unknown): string =>
  `${DASHBOARD}: path ${describeValue(path)} is not a usable mount path. ` +
  `Fix: pass an absolute path of one or more segments of A-Z a-z 0-9 . _ ~ -, e.g. '/cron-lock' or '/admin/cron-lock'.`;

export const DASHBOARD_INVALID_GUARD = (guard: unknown): string =>
  `${DASHBOARD}: guard ${describeValue(guard)} is not a guard. ` +
  `Fix: pass a guard class (with a canActivate method) or an instance of one.`;

export const DASHBOARD_ACTIONS_WITHOUT_GUARD = (): string =>
  `${DASHBOARD}: actions: true needs a guard: pause, resume, trigger and release would be open to ` +
  `anyone who reaches the page. Fix: pass guard: YourAuthGuard (the app's own, or a token guard), ` +
  `or leave actions out for a read-only page.`;

export const DASHBOARD_INVALID_OPTION = (
  option: string,
  expected: string,
  value: unknown,
): string => `${DASHBOARD}: ${option} must be ${expected}, got ${describeValue(value)}.`;

/** Logged once per process: the store's user may not list the prefix (no `SCAN` for Redis). */
export const DASHBOARD_LISTING_REFUSED = (reason: string): string =>
  `Dashboard: the lock store may not list the jobs of its prefix (${reason}), so the page shows ` +
  `this app's jobs only. Fix, to list every instance's jobs: grant the app's Redis user +scan ` +
  `(see docs/deploying.md, 'A least-privilege ACL user').`;
