// What a graceful app.close() leaves in Redis: runs that end as the close starts, and
// acquisitions still in flight when the wait for running jobs gives up (real redis-server).
import { Test, type TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockLostError,
  ShutdownTimeoutError,
  type CronLockEventName,
  type CronLockEvents,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

interface App {
  module: TestingModule;
  locks: CronLockService;
  logger: CapturingLogger;
  events: { [E in CronLockEventName]?: Array<CronLockEvents[E]> };
  closed: boolean;
}

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('graceful shutdown (real redis-server)', () => {
  let redis: Redis;
  let apps: App[] = [];
  let keyPrefix: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  const lockKey = (name: string): string => `${keyPrefix}:{${name}}:lock`;
  const stateKey = (name: string): string => `${keyPrefix}:{${name}}:state`;

  beforeAll(() => {
    redis = newRedisClient();
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await redis.quit();
  });
  beforeEach((context) => {
    keyPrefix = uniquePrefix(`shutdown-${context.task.name.slice(0, 20)}`);
    unhandled.length = 0;
  });
  afterEach(async () => {
    await Promise.all(apps.filter((app) => !app.closed).map((app) => app.module.close()));
    apps = [];
    expect(unhandled).toEqual([]);
  });

  async function boot(instanceId: string, options: CronLockModuleOptions = {}): Promise<App> {
    const logger = new CapturingLogger();
    const module = await Test.createTestingModule({
      imports: [
        CronLockModule.forRoot({
          redis: testRedisUrl(),
          keyPrefix,
          instanceId,
          logger,
          ...options,
        }),
      ],
    }).compile();
    const locks = module.get(CronLockService);
    const app: App = { module, locks, logger, events: {}, closed: false };
    for (const name of ['acquired', 'released', 'completed', 'store-error', 'skipped'] as const) {
      const list: unknown[] = (app.events[name] = []);
      locks.on(name, (payload) => list.push(payload));
    }
    apps.push(app);
    await module.init();
    return app;
  }

  async function close(app: App): Promise<void> {
    app.closed = true;
    await app.module.close();
  }

  it('releases every lock of runs that end as app.close() starts, records their outcome and emits released', async () => {
    const app = await boot('closing');
    const names = ['first', 'second', 'third'];
    const finish = gate();
    const runs = names.map((name) =>
      app.locks.run(name, { ttl: '10m', record: true }, async () => {
        await finish.promise;
        return name;
      }),
    );
    await waitFor(() => app.events.acquired!.length === names.length, {
      message: 'the three runs to hold their locks',
    });

    finish.open();
    const closing = close(app);
    expect(await Promise.all(runs)).toMatchObject(
      names.map((name) => ({ ran: true, value: name })),
    );
    await closing;

    for (const name of names) {
      expect(await redis.pttl(lockKey(name)), `lock of ${name} after close`).toBe(-2);
      expect(await redis.hget(stateKey(name), 'outcome'), `outcome of ${name}`).toBe('completed');
    }
    expect(app.events.released!.map((event) => [event.name, event.released]).sort()).toEqual(
      names.map((name) => [name, true]).sort(),
    );
    expect(app.events['store-error']).toEqual([]);
    expect(app.logger.errors()).toEqual([]);
    expect(JSON.stringify(app.logger.lines)).not.toContain('Connection is closed');
  });

  describe('with a private redis-server that stops answering (SIGSTOP)', () => {
    let server: RedisServerHandle | undefined;

    afterEach(async () => {
      server?.kill('SIGCONT');
      await server?.stop();
      server = undefined;
    });

    /** How `app.close()` ended: `'closed'`, or `'hung'` if still pending after 15 s. */
    async function closeWithin15s(app: App): Promise<'closed' | 'hung'> {
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(resolve, 15_000, 'hung')));
      const outcome = await Promise.race([close(app).then(() => 'closed' as const), hung]);
      clearTimeout(timer);
      return outcome;
    }

    it('ends app.close() within a bounded time when Redis stops answering after the trigger channel listened', async () => {
      server = await startRedisServer();
      const app = await boot('frozen-listening', { redis: server.url });
      // Opens the trigger channel's subscriber connection (nobody has the job: no instance takes it).
      expect(await app.locks.trigger('elsewhere', { timeout: '200ms' })).toMatchObject({
        ran: false,
      });
      server.kill('SIGSTOP');

      // Before the fix it hung for good; the lock client's 2 s command timeout and the
      // subscriber's 2 s bound end it well within the 15 s.
      expect(await closeWithin15s(app)).toBe('closed');
    });

    it('ends app.close() within a bounded time when Redis stops answering before the trigger channel listened', async () => {
      server = await startRedisServer();
      const app = await boot('frozen-subscribing', { redis: server.url });
      server.kill('SIGSTOP');
      // The subscription waits for Redis (offline queue, no command timeout, by design).
      await expect(app.locks.trigger('elsewhere', { timeout: '200ms' })).rejects.toThrow(
        /within 200ms/,
      );

      expect(await closeWithin15s(app)).toBe('closed');
    });
  });

  describe('with a private redis-server that pauses writes', () => {
    let server: RedisServerHandle | undefined;
    let admin: Redis | undefined;

    afterEach(async () => {
      admin?.disconnect();
      await server?.stop();
      server = undefined;
      admin = undefined;
    });

    it('releases at once, and never runs, a lock acquired after the shutdown wait gave up', async () => {
      server = await startRedisServer();
      admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
      const app = await boot('late', { redis: server.url, shutdownTimeout: 500 });
      let started = false;

      // Every write command waits 1.5 s: the acquire answers a second after shutdown gave up.
      await admin.client('PAUSE', 1_500, 'WRITE');
      const result = app.locks.run('late-acquire', { ttl: '10m', record: true }, () => {
        started = true;
        return 'ran';
      });
      const closing = close(app);

      expect(await result).toEqual({ ran: false, reason: 'shutting-down' });
      await closing;
      expect(started, 'the job started after shutdown gave up on it').toBe(false);
      expect(await admin.pttl(lockKey('late-acquire')), 'the late lock was released').toBe(-2);
      // Acquired, so the occurrence marker and fencing token stay; only the lock is freed.
      expect(await admin.hget(stateKey('late-acquire'), 'fence')).not.toBeNull();
      expect(app.events.acquired).toEqual([]);
      expect(JSON.stringify(app.logger.lines)).not.toContain('Connection is closed');
    });
  });

  it("rejects ctx.extend() after shutdown gave up on the run with the signal's ShutdownTimeoutError, not a lost lock", async () => {
    const app = await boot('given-up', { shutdownTimeout: 200 });
    const running = gate();
    const result = app.locks.run('given-up-extend', { ttl: '10m' }, async (ctx) => {
      running.open();
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      const extended = await ctx.extend().then(
        () => null,
        (error: unknown) => error,
      );
      return { told: ctx.signal.reason as unknown, extended };
    });
    await running.promise;

    const closing = close(app);
    const outcome = await result;
    await closing;

    expect(outcome.ran).toBe(true);
    if (!outcome.ran) return;
    expect(outcome.value.told).toBeInstanceOf(ShutdownTimeoutError);
    // The run is told one story: the lock was not lost (it stays until its ttl, as the job may
    // still be writing), shutdown gave up on the run.
    expect(outcome.value.extended).toBe(outcome.value.told);
    expect(outcome.value.extended).not.toBeInstanceOf(LockLostError);
    expect(await redis.pttl(lockKey('given-up-extend'))).toBeGreaterThan(60_000);
  });
});
