import { Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  LockStoreError,
  MemoryLockStore,
  type CronLockModuleOptions,
  type LockStore,
} from 'nestjs-cron-lock';
import { waitFor } from '../support/redis.js';

/** A store whose every operation fails, as an unreachable Redis does. */
class FailingStore extends MemoryLockStore {
  override async acquire(): Promise<never> {
    throw new LockStoreError('Error: connect ECONNREFUSED 127.0.0.1:1');
  }
}

/** A store that answers acquires only when told to, to catch shutdown mid-acquire. */
class GatedStore extends MemoryLockStore {
  released = 0;
  private gate: (() => void) | undefined;
  acquireStarted = false;
  override async acquire(...args: Parameters<LockStore['acquire']>) {
    this.acquireStarted = true;
    await new Promise<void>((resolve) => (this.gate = resolve));
    return super.acquire(...args);
  }
  override async release(...args: Parameters<LockStore['release']>) {
    this.released += 1;
    return super.release(...args);
  }
  open(): void {
    this.gate?.();
  }
}

const apps: TestingModule[] = [];

async function boot(options: CronLockModuleOptions): Promise<TestingModule> {
  @Module({ imports: [CronLockModule.forRoot(options)] })
  class AppModule {}
  const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
  await app.init();
  apps.push(app);
  return app;
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

describe('when the lock store fails', () => {
  it('skips the run by default and keeps the app running', async () => {
    const app = await boot({ store: new FailingStore(), logger: false });
    const locks = app.get(CronLockService);
    const errors: string[] = [];
    locks.on('store-error', (event) => errors.push(`${event.operation}: ${event.message}`));
    let ran = false;

    const result = await locks.run('report', { ttl: '5s' }, () => {
      ran = true;
    });

    expect(result).toEqual({ ran: false, reason: 'store-error' });
    expect(ran).toBe(false);
    expect(errors).toEqual([expect.stringContaining('acquire: LockStoreError')]);
  });

  it("runs without a lock, with fencing token 0 and a warning, under onStoreError: 'run'", async () => {
    const lines: string[] = [];
    const logger = {
      log: (message: string) => lines.push(`log ${message}`),
      error: (message: string) => lines.push(`error ${message}`),
      warn: (message: string) => lines.push(`warn ${message}`),
    };
    const app = await boot({ store: new FailingStore(), onStoreError: 'run', logger });
    const locks = app.get(CronLockService);

    const result = await locks.run('report', { ttl: '5s' }, (ctx) => ctx.fencingToken);

    expect(result.ran).toBe(true);
    expect(result.ran && result.value).toBe(0);
    expect(lines.some((line) => line.startsWith('warn report running WITHOUT a lock'))).toBe(true);
    expect(lines.some((line) => line.startsWith('error report lock store error on acquire'))).toBe(
      true,
    );
  });

  it.each<[string, unknown]>([
    ['0', 0],
    ['a negative number', -1],
    ['NaN', Number.NaN],
    ['past what a timer holds', 2 ** 31],
  ])(
    "rejects ctx.extend(%s) in a run without the lock as under the lock, under onStoreError: 'run'",
    async (_what, ttl) => {
      const app = await boot({ store: new FailingStore(), onStoreError: 'run', logger: false });
      const locks = app.get(CronLockService);

      const result = await locks.run('report', { ttl: '5s' }, (ctx) =>
        ctx.extend(ttl as never).then(
          () => undefined,
          (error: unknown) => error,
        ),
      );

      expect(result.ran).toBe(true);
      const error = result.ran ? result.value : undefined;
      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toContain('report ctx.extend');
    },
  );

  it('resolves a valid ctx.extend() in a run without the lock, which has nothing to extend', async () => {
    const app = await boot({ store: new FailingStore(), onStoreError: 'run', logger: false });
    const locks = app.get(CronLockService);

    const result = await locks.run('report', { ttl: '5s' }, async (ctx) => {
      await ctx.extend('1m');
      await ctx.extend();
      return ctx.signal.aborted;
    });

    expect(result).toMatchObject({ ran: true, value: false });
  });

  it('makes app.close() wait for a run started without a lock', async () => {
    const app = await boot({ store: new FailingStore(), onStoreError: 'run', logger: false });
    const locks = app.get(CronLockService);
    let finished = false;
    let release!: () => void;
    const running = locks.run('report', { ttl: '5s' }, async () => {
      await new Promise<void>((resolve) => (release = resolve));
      finished = true;
    });
    await waitFor(() => release !== undefined, { message: 'unlocked run started' });

    const closing = apps.splice(apps.indexOf(app), 1)[0].close();
    // Closing an app this small takes a few ms: ending the job well after that shows that
    // close() waited for it rather than racing it.
    setTimeout(() => release(), 300);
    await closing;

    expect(finished).toBe(true);
    await expect(running).resolves.toMatchObject({ ran: true });
  });
});

describe('app.close() during an acquire', () => {
  it('waits for the acquire, lets the run finish and releases its lock before resolving', async () => {
    const store = new GatedStore();
    const app = await boot({ store, logger: false });
    const locks = app.get(CronLockService);
    let ran = false;
    const running = locks.run('report', { ttl: '5s' }, () => {
      ran = true;
    });
    await waitFor(() => store.acquireStarted, { message: 'acquire sent' });

    const closing = apps.splice(apps.indexOf(app), 1)[0].close();
    store.open();
    await closing;

    expect(ran).toBe(true);
    expect(store.released).toBe(1);
    expect((await store.inspect('report')).holder).toBeNull();
    await expect(running).resolves.toMatchObject({ ran: true });
  });
});
