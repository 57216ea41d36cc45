import { Controller, Module, UseGuards, type DynamicModule, type Type } from '@nestjs/common';
import { DashboardActionsController } from './dashboard-actions.controller.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import { DashboardController } from './dashboard.controller.js';
import { DashboardData } from './dashboard.data.js';
import {
  resolveDashboardOptions,
  type CronLockDashboardOptions,
  type ResolvedDashboardOptions,
} from './dashboard.options.js';

/**
 * A page of every locked job of the fleet: state, holder, pause, last success, next occurrence
 * and history, with a JSON endpoint of the same data; the operator's actions (pause, resume,
 * trigger, release) with `actions: true`, behind a guard that is then required. Needs
 * `CronLockModule` (global by default) and an HTTP app, Express or Fastify.
 *
 * ```ts
 * CronLockDashboardModule.forRoot({ path: '/cron-lock', guard: AdminGuard, actions: true })
 * ```
 *
 * @publicApi
 */
@Module({})
export class CronLockDashboardModule {
  /**
   * Mounts the dashboard at `options.path`. Throws {@link CronLockConfigError} for a bad option,
   * and for `actions: true` without a `guard`.
   */
  static forRoot(options: CronLockDashboardOptions): DynamicModule {
    const resolved = resolveDashboardOptions(options);
    const controllers: Type[] = [
      mount(DashboardController, 'CronLockDashboardController', resolved),
    ];
    if (resolved.actions) {
      controllers.push(
        mount(DashboardActionsController, 'CronLockDashboardActionsController', resolved),
      );
    }
    return {
      module: CronLockDashboardModule,
      imports: options.imports ?? [],
      controllers,
      providers: [{ provide: DASHBOARD_OPTIONS, useValue: resolved }, DashboardData],
    };
  }
}

/**
 * A subclass of `base` per `forRoot()`, with its own path and guard: decorating the shared class
 * would give two apps of one process (or two mounts) the last one's path and guard.
 */
function mount<T extends Type>(base: T, name: string, options: ResolvedDashboardOptions): Type {
  const mounted = class extends base {};
  Object.defineProperty(mounted, 'name', { value: name });
  Controller(options.path)(mounted);
  if (options.guard !== undefined) {
    UseGuards(options.guard)(mounted);
  }
  return mounted;
}
