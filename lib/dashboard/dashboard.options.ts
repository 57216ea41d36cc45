import type { CanActivate, ModuleMetadata, Type } from '@nestjs/common';
import { CronLockConfigError } from '../cron-lock.errors.js';
import {
  DASHBOARD_ACTIONS_WITHOUT_GUARD,
  DASHBOARD_INVALID_GUARD,
  DASHBOARD_INVALID_OPTION,
  DASHBOARD_INVALID_PATH,
  DASHBOARD_NOT_AN_OBJECT,
  DASHBOARD_UNKNOWN_OPTION,
} from './dashboard.messages.js';
import { MAX_DURATION_MS, parseDuration, type Duration } from '../utils/duration.js';
import { rejectEmptyOptions } from '../utils/empty-options.js';

/**
 * Options of {@link CronLockDashboardModule.forRoot}.
 *
 * @publicApi
 */
export interface CronLockDashboardOptions {
  /**
   * Where the page is mounted, e.g. `'/cron-lock'` (under the app's global prefix, if any). The
   * page links to its script, style and JSON with relative URLs, so it also works behind a proxy
   * that adds a path prefix.
   */
  path: string;
  /**
   * A guard (class or instance) in front of every route of the dashboard: the app's own auth
   * guard, or one that checks a token. Required with `actions: true`. A guard class is created
   * by Nest in the dashboard's module: put what it injects in `imports`.
   */
  guard?: Type<CanActivate> | CanActivate;
  /**
   * Show and accept the operator's actions: pause, resume, trigger and release (with
   * confirmation). Default `false`: a read-only page. Each action is a POST behind the guard,
   * with a CSRF token checked on the server.
   */
  actions?: boolean;
  /** Modules the guard's dependencies come from (e.g. the app's `AuthModule`). */
  imports?: ModuleMetadata['imports'];
  /** How often the open page refreshes its data. Default `'5s'`; at least `'1s'`. */
  refreshInterval?: Duration;
  /** How many history entries per job the page and the JSON show. Default 30, at most 500. */
  historyLimit?: number;
}

/** The validated options. */
export interface ResolvedDashboardOptions {
  /** The mount path, with one leading slash and no trailing one. */
  path: string;
  guard: Type<CanActivate> | CanActivate | undefined;
  actions: boolean;
  refreshIntervalMs: number;
  historyLimit: number;
}

/** What leaving each option out gives, for the error on one present but empty. */
const OPTION_DEFAULTS = {
  guard: 'no guard',
  actions: 'the default false (read-only)',
  imports: 'no imports',
  refreshInterval: "the default '5s'",
  historyLimit: 'the default 30',
};
const KNOWN = new Set(['path', 'guard', 'actions', 'imports', 'refreshInterval', 'historyLimit']);
const SEGMENT = /^[A-Za-z0-9._~-]+$/;
const DEFAULT_REFRESH_MS = 5_000;
const DEFAULT_HISTORY_LIMIT = 30;
const MAX_HISTORY_LIMIT = 500;

/** Validates the options; throws {@link CronLockConfigError} naming the option and the fix. */
export function resolveDashboardOptions(options: unknown): ResolvedDashboardOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CronLockConfigError(DASHBOARD_NOT_AN_OBJECT(options));
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new CronLockConfigError(DASHBOARD_UNKNOWN_OPTION(key));
    }
  }
  // `guard: config.get('ADMIN') ? AdminGuard : undefined` must not mount an open page.
  rejectEmptyOptions('CronLockDashboardModule.forRoot', options, OPTION_DEFAULTS);
  const given = options as CronLockDashboardOptions;
  const path = resolvePath(given.path);
  if (given.guard !== undefined && !isGuard(given.guard)) {
    throw new CronLockConfigError(DASHBOARD_INVALID_GUARD(given.guard));
  }
  if (given.actions !== undefined && typeof given.actions !== 'boolean') {
    throw new CronLockConfigError(DASHBOARD_INVALID_OPTION('actions', 'a boolean', given.actions));
  }
  const actions = given.actions ?? false;
  if (actions && given.guard === undefined) {
    // Fail closed: an action route without a guard would let anyone pause or release jobs.
    throw new CronLockConfigError(DASHBOARD_ACTIONS_WITHOUT_GUARD());
  }
  if (given.imports !== undefined && !Array.isArray(given.imports)) {
    throw new CronLockConfigError(
      DASHBOARD_INVALID_OPTION('imports', 'an array of modules', given.imports),
    );
  }
  return {
    path,
    guard: given.guard,
    actions,
    refreshIntervalMs: resolveRefresh(given.refreshInterval),
    historyLimit: resolveHistoryLimit(given.historyLimit),
  };
}

function resolvePath(path: unknown): string {
  if (typeof path !== 'string') {
    throw new CronLockConfigError(DASHBOARD_INVALID_PATH(path));
  }
  const segments = path.replace(/^\/+|\/+$/g, '').split('/');
  // The page's relative links are built from the last segment: it must be a plain name.
  if (!path.startsWith('/') || segments.some((segment) => !SEGMENT.test(segment))) {
    throw new CronLockConfigError(DASHBOARD_INVALID_PATH(path));
  }
  return `/${segments.join('/')}`;
}

function isGuard(guard: unknown): boolean {
  if (typeof guard === 'function') {
    return typeof (guard.prototype as Partial<CanActivate> | undefined)?.canActivate === 'function';
  }
  return (
    typeof guard === 'object' &&
    guard !== null &&
    typeof (guard as Partial<CanActivate>).canActivate === 'function'
  );
}

function resolveRefresh(value: Duration | undefined): number {
  if (value === undefined) {
    return DEFAULT_REFRESH_MS;
  }
  const ms = parseDuration(value);
  if (ms === undefined || ms < 1_000 || ms > MAX_DURATION_MS) {
    throw new CronLockConfigError(
      DASHBOARD_INVALID_OPTION(
        'refreshInterval',
        `a duration from 1s to ${MAX_DURATION_MS}ms, e.g. '5s'`,
        value,
      ),
    );
  }
  return ms;
}

function resolveHistoryLimit(value: number | undefined): number {
  if (value === undefined) {
    return DEFAULT_HISTORY_LIMIT;
  }
  if (!Number.isInteger(value) || value < 1 || value > MAX_HISTORY_LIMIT) {
    throw new CronLockConfigError(
      DASHBOARD_INVALID_OPTION('historyLimit', `an integer from 1 to ${MAX_HISTORY_LIMIT}`, value),
    );
  }
  return value;
}
