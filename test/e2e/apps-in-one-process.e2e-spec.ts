// Several Nest apps in one process, each providing the same job class: a call of the locked
// method on one app's instance runs under that app's lock (its store, its instance id, its
// events), whichever app booted last, and closing one app leaves the other working.
import { Injectable, Scope, type Provider } from '@nestjs/common';
import { ContextIdFactory } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  assertLocked,
  CronLock,
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  NotLockedError,
  currentLockContext,
  type CronLockEvents,
} from 'nestjs-cron-lock';
import { waitFor } from '../support/redis.js';

@Injectable()
class SingletonJobs {
  @LockedCron('* * * * * *', { name: 'apps-singleton-tick', ttl: '5s' })
  async tick(): Promise<string> {
    return 'ticked';
  }

  @CronLock({ name: 'apps-singleton-plain', ttl: '5s' })
  async plain(): Promise<string> {
    return 'plain';
  }
}

/** A dependency of the request-scoped jobs, so that Nest injects it into each instance. */
@Injectable()
class Greeting {
  readonly text = 'reported';
}

@Injectable({ scope: Scope.REQUEST })
class RequestJobs {
  constructor(private readonly greeting: Greeting) {}

  @LockedCron('0 0 1 1 *', { name: 'apps-request-cron', ttl: '5s' })
  async report(): Promise<string> {
    return this.greeting.text;
  }

  @CronLock({ name: 'apps-request-plain', ttl: '5s' })
  async plain(): Promise<string> {
    return 'plain';
  }
}

@Injectable({ scope: Scope.TRANSIENT })
class TransientJobs {
  @LockedCron('0 0 1 1 *', { name: 'apps-transient-cron', ttl: '5s' })
  async report(): Promise<string> {
    return 'reported';
  }
}

/** Has its own TransientJobs, made as the app boots. */
@Injectable()
class TransientConsumer {
  constructor(readonly jobs: TransientJobs) {}
}

interface App {
  instanceId: string;
  module: TestingModule;
  locks: CronLockService;
  acquired: Array<CronLockEvents['acquired']>;
}

let apps: App[] = [];

afterEach(async () => {
  await Promise.all(apps.map((app) => app.module.close()));
  apps = [];
});

/** Boots an app with its own in-memory store and instance id. */
async function boot(instanceId: string, providers: Provider[]): Promise<App> {
  const module = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({ store: new MemoryLockStore(), instanceId, logger: false }),
    ],
    providers,
  }).compile();
  const locks = module.get(CronLockService);
  const app: App = { instanceId, module, locks, acquired: [] };
  locks.on('acquired', (event) => app.acquired.push(event));
  apps.push(app);
  await module.init();
  return app;
}

async function close(app: App): Promise<void> {
  await app.module.close();
  apps = apps.filter((other) => other !== app);
}

/** The acquisitions of a lock name, by instance id, as each app's own service reported them. */
function acquiredBy(name: string): Record<string, string[]> {
  return Object.fromEntries(
    apps.map((app) => [
      app.instanceId,
      app.acquired.filter((event) => event.name === name).map((event) => event.instanceId),
    ]),
  );
}

describe('two apps in one process providing the same class', () => {
  it('runs a manual call of a singleton method under the app that owns the instance', async () => {
    const first = await boot('app-first', [SingletonJobs]);
    const second = await boot('app-second', [SingletonJobs]);

    await expect(first.module.get(SingletonJobs).plain()).resolves.toBe('plain');
    await expect(second.module.get(SingletonJobs).plain()).resolves.toBe('plain');
    expect(acquiredBy('apps-singleton-plain')).toEqual({
      'app-first': ['app-first'],
      'app-second': ['app-second'],
    });

    await close(second);
    await expect(first.module.get(SingletonJobs).plain()).resolves.toBe('plain');
    expect(acquiredBy('apps-singleton-plain')).toEqual({ 'app-first': ['app-first', 'app-first'] });
  });

  it('ticks a singleton cron in both apps, each through its own store', async () => {
    const first = await boot('app-first', [SingletonJobs]);
    const second = await boot('app-second', [SingletonJobs]);
    const ticks = (app: App) =>
      app.acquired.filter((event) => event.name === 'apps-singleton-tick');

    // Each app has its own store, so each runs every occurrence once.
    await waitFor(() => ticks(first).length >= 2 && ticks(second).length >= 2, {
      timeout: 10_000,
      message: 'two ticks in each app',
    });
    expect(ticks(first).every((event) => event.instanceId === 'app-first')).toBe(true);
    expect(ticks(second).every((event) => event.instanceId === 'app-second')).toBe(true);

    await close(second);
    const before = ticks(first).length;
    await waitFor(() => ticks(first).length >= before + 2, {
      timeout: 10_000,
      message: 'two more ticks in the app left running',
    });
  });

  it('runs a call of a request-scoped method under the app whose request made the instance', async () => {
    const first = await boot('app-first', [RequestJobs, Greeting]);
    const second = await boot('app-second', [RequestJobs, Greeting]);
    const instanceOf = (app: App) =>
      app.module.resolve(RequestJobs, ContextIdFactory.create(), { strict: false });

    await expect((await instanceOf(first)).report()).resolves.toBe('reported');
    await expect((await instanceOf(first)).plain()).resolves.toBe('plain');
    await expect((await instanceOf(second)).report()).resolves.toBe('reported');
    expect(acquiredBy('apps-request-cron')).toEqual({
      'app-first': ['app-first'],
      'app-second': ['app-second'],
    });
    expect(acquiredBy('apps-request-plain')).toEqual({
      'app-first': ['app-first'],
      'app-second': [],
    });

    await close(second);
    await expect((await instanceOf(first)).report()).resolves.toBe('reported');
    expect(acquiredBy('apps-request-cron')).toEqual({ 'app-first': ['app-first', 'app-first'] });
  });

  it('runs a call of a transient method under the app that made the instance', async () => {
    const first = await boot('app-first', [TransientJobs, TransientConsumer]);
    const second = await boot('app-second', [TransientJobs, TransientConsumer]);

    // One instance made for a provider as the app boots, one made later.
    await expect(first.module.get(TransientConsumer).jobs.report()).resolves.toBe('reported');
    await expect((await first.module.resolve(TransientJobs)).report()).resolves.toBe('reported');
    await expect(second.module.get(TransientConsumer).jobs.report()).resolves.toBe('reported');
    await expect((await second.module.resolve(TransientJobs)).report()).resolves.toBe('reported');
    expect(acquiredBy('apps-transient-cron')).toEqual({
      'app-first': ['app-first', 'app-first'],
      'app-second': ['app-second', 'app-second'],
    });

    await close(second);
    await expect((await first.module.resolve(TransientJobs)).report()).resolves.toBe('reported');
    expect(acquiredBy('apps-transient-cron')).toEqual({
      'app-first': ['app-first', 'app-first', 'app-first'],
    });
  });
});

// `asyncContext` is a module option: one app turning it on must not change what assertLocked()
// tells the code of another app's runs, whose fix is to turn it on there too.
describe('two apps in one process, only one with asyncContext', () => {
  let modules: TestingModule[] = [];

  afterEach(async () => {
    await Promise.all(modules.map((module) => module.close()));
    modules = [];
  });

  async function bootLocks(asyncContext: boolean): Promise<CronLockService> {
    const module = await Test.createTestingModule({
      imports: [
        CronLockModule.forRoot({ store: new MemoryLockStore(), asyncContext, logger: false }),
      ],
    }).compile();
    modules.push(module);
    await module.init();
    return module.get(CronLockService);
  }

  it('tells a run of the app without it that asyncContext is off there, not that it runs outside a lock', async () => {
    const tracked = await bootLocks(true);
    const untracked = await bootLocks(false);

    const inTracked = await tracked.run('apps-tracked', { ttl: '5s' }, () => assertLocked().name);
    expect(inTracked).toEqual({ ran: true, value: 'apps-tracked', ctx: expect.anything() });

    let thrown: unknown;
    let context: unknown = 'unread';
    await untracked.run('apps-untracked', { ttl: '5s' }, () => {
      context = currentLockContext();
      try {
        assertLocked();
      } catch (error) {
        thrown = error;
      }
    });
    expect(context).toBeUndefined();
    expect(thrown).toBeInstanceOf(NotLockedError);
    expect(thrown).toMatchObject({ reason: 'disabled' });
    expect((thrown as Error).message).toContain('asyncContext: true');
  });
});
