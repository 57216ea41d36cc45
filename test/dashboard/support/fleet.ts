import {
  Injectable,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { Module, type DynamicModule } from '@nestjs/common';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  type LockContext,
  type LockStore,
} from 'nestjs-cron-lock';
import { CronLockDashboardModule, type CronLockDashboardOptions } from 'nestjs-cron-lock/dashboard';

/** Jobs whose schedule never fires during a test: their state comes from run() below. */
@Injectable()
export class DashboardJobs {
  @LockedCron('0 0 1 1 *', { ttl: '30s', name: 'reports.yearly', timeZone: 'Europe/Paris' })
  async yearly(): Promise<void> {}

  @LockedCron('0 0 1 1 *', { ttl: '30s', name: 'sync' })
  async sync(): Promise<void> {}
}

/** Lets a request in when it carries `Authorization: Bearer <token>`. */
export class TokenGuard implements CanActivate {
  constructor(private readonly token: string) {}
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
    return request.headers.authorization === `Bearer ${this.token}`;
  }
}

/** Lets every request in (a browser test's stand-in for the app's own login). */
export class OpenGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

export interface FleetApp {
  instanceId: string;
  app: INestApplication;
  locks: CronLockService;
}

@Module({})
class InstanceModule {
  static of(
    redis: string,
    keyPrefix: string,
    instanceId: string,
    dashboard: CronLockDashboardOptions | undefined,
  ): DynamicModule {
    return {
      module: InstanceModule,
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ redis, keyPrefix, instanceId, logger: false }),
        ...(dashboard ? [CronLockDashboardModule.forRoot(dashboard)] : []),
      ],
      providers: [DashboardJobs],
    };
  }
}

/**
 * One instance of the app: its own Nest app and Redis client on the shared server. With
 * `dashboard`, it mounts the dashboard and serves HTTP on a free port.
 */
export async function startInstance(
  redis: string,
  keyPrefix: string,
  instanceId: string,
  dashboard?: CronLockDashboardOptions,
  adapter?: Parameters<typeof NestFactory.create>[1],
): Promise<FleetApp> {
  const module = InstanceModule.of(redis, keyPrefix, instanceId, dashboard);
  const app = adapter
    ? await NestFactory.create(module, adapter as never, { logger: false })
    : await NestFactory.create(module, { logger: false });
  if (dashboard) {
    await app.listen(0, '127.0.0.1');
  } else {
    await app.init();
  }
  return { instanceId, app, locks: app.get(CronLockService) };
}

/** The base URL of an app that listens. */
export async function urlOf(app: INestApplication): Promise<string> {
  const url = await app.getUrl();
  return url.replace('[::1]', '127.0.0.1');
}

/**
 * Holds the lock of `name` from `fleet` until `stop()` is called or the lock is lost (the
 * renewal finds it gone: the run's signal aborts).
 */
export function holdLock(
  fleet: FleetApp,
  name: string,
): { stop(): void; done: Promise<unknown>; lost: Promise<void> } {
  let stop!: () => void;
  let lost!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const lostPromise = new Promise<void>((resolve) => (lost = resolve));
  const done = fleet.locks.run(name, { ttl: '3s' }, async (ctx: LockContext) => {
    ctx.signal.addEventListener('abort', () => lost(), { once: true });
    await Promise.race([stopped, lostPromise]);
  });
  return { stop, done: done.catch((error: unknown) => error), lost: lostPromise };
}

/**
 * Two instances on one store: `instance-a` serves the dashboard (actions on, refreshed every
 * second) on a free port, `instance-b` does not. Their closes go on `cleanup`.
 */
export async function servingAndWorker(
  store: LockStore,
  cleanup: Array<() => Promise<unknown>>,
): Promise<{ serving: CronLockService; worker: CronLockService; page: string }> {
  @Module({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({ store, instanceId: 'instance-a', logger: false }),
      CronLockDashboardModule.forRoot({
        path: '/cron-lock',
        guard: OpenGuard,
        actions: true,
        refreshInterval: '1s',
      }),
    ],
    providers: [DashboardJobs],
  })
  class ServingApp {}
  const app = await NestFactory.create(ServingApp, { logger: false });
  cleanup.push(() => app.close());
  await app.listen(0, '127.0.0.1');
  const worker = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({ store, instanceId: 'instance-b', logger: false }),
    ],
    providers: [DashboardJobs],
  }).compile();
  cleanup.push(() => worker.close());
  await worker.init();
  return {
    serving: app.get(CronLockService),
    worker: worker.get(CronLockService),
    page: `${await urlOf(app)}/cron-lock`,
  };
}

/** The page's HTML and the CSRF cookie and token its load hands out (for the actions). */
export async function csrfOf(
  page: string,
  headers: Record<string, string> = {},
): Promise<{ cookie: string; token: string; html: string }> {
  const response = await fetch(page, { headers });
  const setCookie = response.headers.get('set-cookie') ?? '';
  const html = await response.text();
  const token = /<meta name="cron-lock-csrf" content="([^"]+)">/.exec(html)?.[1];
  if (token === undefined) {
    throw new Error(`no CSRF token in the page at ${page}`);
  }
  return { cookie: setCookie.split(';')[0]!, token, html };
}
