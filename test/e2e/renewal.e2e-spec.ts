import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockLostError,
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
  events: { [E in CronLockEventName]: Array<CronLockEvents[E]> };
}

/** Resolves with the monotonic time at which `signal` aborts; rejects if it does not in time. */
function whenAborted(signal: AbortSignal, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      resolve(performance.now());
      return;
    }
    const timer = setTimeout(
      () => reject(new Error(`signal not aborted within ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve(performance.now());
      },
      { once: true },
    );
  });
}

/** Blocks the event loop for `ms`, as CPU-bound work or a synchronous call does. */
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('renewal and loss of a held lock (real redis-server)', () => {
  let redis: Redis;
  let apps: App[] = [];
  let keyPrefix: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  const lockKey = (name: string): string => `${keyPrefix}:{${name}}:lock`;

  beforeAll(() => {
    redis = newRedisClient();
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await redis.quit();
  });
  beforeEach((context) => {
    keyPrefix = uniquePrefix(`renewal-${context.task.name.slice(0, 20)}`);
    unhandled.length = 0;
  });
  afterEach(async () => {
    await Promise.all(apps.map((app) => app.module.close()));
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
    const events = {
      acquired: [],
      missed: [],
      skipped: [],
      renewed: [],
      lost: [],
      released: [],
      completed: [],
      failed: [],
      'store-error': [],
      triggered: [],
      alert: [],
      paused: [],
      resumed: [],
    } as App['events'];
    for (const name of Object.keys(events) as CronLockEventName[]) {
      locks.on(name, (payload) => (events[name] as unknown[]).push(payload));
    }
    const app: App = { module, locks, logger, events };
    apps.push(app);
    await module.init();
    return app;
  }

  it('keeps the lock of a 2 s job with a 600 ms ttl, so no other instance can take it', async () => {
    const holder = await boot('holder');
    const contender = await boot('contender');
    const pttls: number[] = [];
    const contenderResults: unknown[] = [];

    const result = await holder.locks.run('long-job', { ttl: 600 }, async (ctx) => {
      const until = performance.now() + 2_000;
      while (performance.now() < until) {
        pttls.push(await redis.pttl(lockKey('long-job')));
        contenderResults.push(await contender.locks.run('long-job', { ttl: 600 }, () => 'ran'));
        await sleep(100);
      }
      return ctx.signal.aborted;
    });

    expect(result).toMatchObject({ ran: true, value: false });
    expect(holder.events.renewed.length).toBeGreaterThanOrEqual(3);
    expect(holder.events.renewed.every((event) => event.ttl === 600)).toBe(true);
    expect(pttls.length).toBeGreaterThanOrEqual(5);
    expect(pttls.every((pttl) => pttl > 0 && pttl <= 600)).toBe(true);
    expect(contenderResults.length).toBe(pttls.length);
    expect(
      contenderResults.every((r) => JSON.stringify(r) === '{"ran":false,"reason":"held"}'),
    ).toBe(true);
    expect(holder.events.lost).toEqual([]);
    expect(contender.events.acquired).toEqual([]);
    expect(holder.events.released.map((event) => event.released)).toEqual([true]);
    expect(await redis.exists(lockKey('long-job'))).toBe(0);
  });

  it('raises the lock ttl with ctx.extend', async () => {
    const app = await boot('extender');
    const result = await app.locks.run('extended', { ttl: 600 }, async (ctx) => {
      const before = await redis.pttl(lockKey('extended'));
      await ctx.extend('5s');
      return { before, after: await redis.pttl(lockKey('extended')) };
    });
    expect(result.ran).toBe(true);
    if (result.ran) {
      expect(result.value.before).toBeLessThanOrEqual(600);
      expect(result.value.after).toBeGreaterThan(1_000);
      expect(result.value.after).toBeLessThanOrEqual(5_000);
    }
    expect(app.events.renewed.some((event) => event.ttl === 5_000)).toBe(true);
  });

  it('aborts ctx.signal with LockLostError("expired") within a renew interval when the key is deleted', async () => {
    const app = await boot('victim');
    const ttl = 600;
    const renewEvery = ttl / 3;
    const result = await app.locks.run('deleted', { ttl }, async (ctx) => {
      await redis.del(lockKey('deleted'));
      const deletedAt = performance.now();
      const abortedAt = await whenAborted(ctx.signal, 5_000);
      return { error: ctx.signal.reason as unknown, afterMs: abortedAt - deletedAt };
    });

    expect(result.ran).toBe(true);
    if (!result.ran) return;
    expect(result.value.error).toBeInstanceOf(LockLostError);
    expect(result.value.error).toMatchObject({ reason: 'expired', lockName: 'deleted' });
    expect(result.value.afterMs).toBeLessThanOrEqual(renewEvery + 600);
    expect(app.events.lost).toMatchObject([{ name: 'deleted', reason: 'expired' }]);
    expect(
      app.logger.errors().some((line) => line.includes('deleted') && line.includes('was lost')),
    ).toBe(true);
    expect(app.events.released.map((event) => event.released)).toEqual([false]);
  });

  it('aborts with LockLostError("taken") and leaves the new owner’s lock intact', async () => {
    const app = await boot('victim');
    const result = await app.locks.run('stolen', { ttl: 600 }, async (ctx) => {
      await redis.set(lockKey('stolen'), 'someone-else', 'PX', 10_000);
      await whenAborted(ctx.signal, 5_000);
      return ctx.signal.reason as unknown;
    });

    expect(result).toMatchObject({ ran: true });
    if (!result.ran) return;
    expect(result.value).toBeInstanceOf(LockLostError);
    expect(result.value).toMatchObject({ reason: 'taken', lockName: 'stolen' });
    expect(app.events.lost).toMatchObject([{ name: 'stolen', reason: 'taken' }]);
    // Release is owner-checked: someone else's lock survives the end of our run.
    expect(app.events.released.map((event) => event.released)).toEqual([false]);
    expect(await redis.get(lockKey('stolen'))).toBe('someone-else');
    expect(await redis.pttl(lockKey('stolen'))).toBeGreaterThan(5_000);
  });

  it('rejects ctx.extend() after the loss with the reason the run was told, not "expired"', async () => {
    const app = await boot('extender');
    const result = await app.locks.run('stolen-then-extended', { ttl: 600 }, async (ctx) => {
      await redis.set(lockKey('stolen-then-extended'), 'someone-else', 'PX', 10_000);
      await whenAborted(ctx.signal, 5_000);
      return {
        told: ctx.signal.reason as unknown,
        extended: await ctx.extend().then(
          () => null,
          (error: unknown) => error,
        ),
      };
    });

    expect(result).toMatchObject({ ran: true });
    if (!result.ran) return;
    expect(result.value.told).toMatchObject({ reason: 'taken' });
    expect(result.value.extended).toBeInstanceOf(LockLostError);
    expect(result.value.extended).toMatchObject({
      reason: 'taken',
      lockName: 'stolen-then-extended',
    });
  });

  it('aborts with reason "expired" when a job with renew: false outlives its ttl', async () => {
    const app = await boot('no-renew');
    const ttl = 300;
    const result = await app.locks.run('unrenewed', { ttl, renew: false }, async (ctx) => {
      const startedAt = performance.now();
      const abortedAt = await whenAborted(ctx.signal, 5_000);
      return { error: ctx.signal.reason as unknown, afterMs: abortedAt - startedAt };
    });

    expect(result.ran).toBe(true);
    if (!result.ran) return;
    expect(result.value.error).toBeInstanceOf(LockLostError);
    expect(result.value.error).toMatchObject({ reason: 'expired' });
    // Not before the ttl could have run out (the deadline counts from before the acquire).
    expect(result.value.afterMs).toBeGreaterThanOrEqual(ttl - 100);
    expect(result.value.afterMs).toBeLessThanOrEqual(ttl + 600);
    expect(app.events.renewed).toEqual([]);
    expect(app.events.lost).toMatchObject([{ reason: 'expired' }]);
  });

  it('reports a run that blocked the event loop past its ttl as lost, not completed', async () => {
    const app = await boot('blocker');
    const ttl = 300;
    // A whole second: the occurrence need not be a tick of any schedule, only not in the future.
    const scheduledAt = new Date(Math.floor(Date.now() / 1_000) * 1_000 - 1_000);
    const result = await app.locks.run('blocked-loop', { ttl, scheduledAt }, () => {
      // CPU-bound work with no await: no timer of the renewer can fire until it returns.
      blockEventLoop(ttl * 2);
      return 'done';
    });

    expect(result).toMatchObject({ ran: true, value: 'done' });
    // The lock went unconfirmed past its deadline: another instance may have run meanwhile.
    expect(app.events.lost).toMatchObject([{ name: 'blocked-loop', reason: 'unconfirmed' }]);
    expect(
      app.logger.errors().some((line) => line.includes('Lock of job "blocked-loop" was lost')),
    ).toBe(true);
    const [entry] = await app.locks.history('blocked-loop');
    expect(entry).toMatchObject({ kind: 'run', outcome: 'lost' });
  });

  it('shows ctx.signal aborted to a job that resumes after a freeze, before the renewer’s timer runs', async () => {
    const app = await boot('frozen');
    const ttl = 300;
    const result = await app.locks.run('frozen-loop', { ttl }, async (ctx) => {
      // Due before the renewer's first timer (ttl / 3): after the freeze it runs first.
      const resumed = sleep(5);
      // A freeze past the deadline (SIGSTOP, a long GC pause, a blocking call).
      blockEventLoop(ttl * 3);
      await resumed;
      // What a job checks before a write it cannot fence.
      return { aborted: ctx.signal.aborted, reason: ctx.signal.reason as unknown };
    });

    expect(result).toMatchObject({ ran: true });
    if (!result.ran) return;
    expect(result.value.aborted).toBe(true);
    expect(result.value.reason).toBeInstanceOf(LockLostError);
    expect(result.value.reason).toMatchObject({ reason: 'unconfirmed', lockName: 'frozen-loop' });
    // Told once, however many ways the loss was noticed.
    expect(app.events.lost).toMatchObject([{ reason: 'unconfirmed' }]);
  });

  it('keeps the lock for minHold after a 5 ms job', async () => {
    const app = await boot('min-hold');
    const other = await boot('other');
    const result = await app.locks.run('held-a-while', { ttl: '2s', minHold: '1s' }, async () => {
      await sleep(5);
      return 'done';
    });
    expect(result).toMatchObject({ ran: true, value: 'done' });
    const pttl = await redis.pttl(lockKey('held-a-while'));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(1_000);
    expect(await other.locks.run('held-a-while', { ttl: '2s' }, () => 'ran')).toEqual({
      ran: false,
      reason: 'held',
    });
  });

  describe('with a private redis-server that goes away mid-run', () => {
    let server: RedisServerHandle | undefined;

    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    it('tells the holder by its deadline, survives, and resumes when Redis returns', async () => {
      const password = `pw-${randomBytes(8).toString('hex')}`;
      server = await startRedisServer({ args: ['--requirepass', password] });
      const privateServer = server;
      const app = await boot('outage', { redis: `redis://:${password}@127.0.0.1:${server.port}` });
      const ttl = 1_000;

      const result = await app.locks.run('outage', { ttl }, async (ctx) => {
        const stoppedAt = performance.now();
        await privateServer.stop();
        const abortedAt = await whenAborted(ctx.signal, 5_000);
        return { error: ctx.signal.reason as unknown, afterMs: abortedAt - stoppedAt };
      });

      // The run itself ended normally: the job was told, the app did not crash.
      expect(result.ran).toBe(true);
      if (!result.ran) return;
      expect(result.value.error).toBeInstanceOf(LockLostError);
      expect(result.value.error).toMatchObject({ reason: 'unconfirmed', lockName: 'outage' });
      // The last confirmed renewal was before the stop: the deadline is at most one ttl later.
      expect(result.value.afterMs).toBeLessThanOrEqual(ttl + 500);
      expect(app.events.lost).toMatchObject([{ reason: 'unconfirmed' }]);

      // While Redis is away, ticks are skipped, not crashed.
      expect(await app.locks.run('outage', { ttl }, () => 'ran')).toEqual({
        ran: false,
        reason: 'store-error',
      });
      expect(app.events['store-error'].length).toBeGreaterThan(0);
      expect(app.logger.errors().some((line) => line.includes('lock store error'))).toBe(true);
      const everything = JSON.stringify([
        app.logger.lines,
        app.events['store-error'],
        result.value,
      ]);
      expect(everything).not.toContain(password);

      await privateServer.restart();
      const resumed = await waitFor(
        async () => {
          const attempt = await app.locks.run('outage', { ttl }, () => 'ran again');
          return attempt.ran ? attempt : undefined;
        },
        { timeout: 15_000, interval: 200, message: 'a run to succeed after Redis returned' },
      );
      expect(resumed.value).toBe('ran again');
      expect(JSON.stringify(app.logger.lines)).not.toContain(password);
    });
  });
});
