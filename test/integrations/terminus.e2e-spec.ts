import { Module, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  LockStoreError,
  MemoryLockStore,
  type AcquireRequest,
  type AcquireResult,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';
import {
  CronLockHealthIndicator,
  CronLockHealthModule,
  type CronLockHealthCheckOptions,
} from 'nestjs-cron-lock/terminus';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const apps: TestingModule[] = [];
const servers: RedisServerHandle[] = [];

async function boot(lock: CronLockModuleOptions | false): Promise<TestingModule> {
  @Module({
    imports: [
      ...(lock ? [CronLockModule.forRoot(lock)] : []),
      TerminusModule.forRoot({ logger: false }),
      CronLockHealthModule,
    ],
  })
  class AppModule {}
  const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
  apps.push(app);
  await app.init();
  return app;
}

/** What a health controller returns: the result, or the body of its 503. */
async function check(
  app: TestingModule,
  options?: CronLockHealthCheckOptions,
): Promise<HealthCheckResult> {
  const indicator = app.get(CronLockHealthIndicator);
  try {
    return await app
      .get(HealthCheckService)
      .check([() => indicator.isHealthy('cron-lock', options)]);
  } catch (error) {
    if (error instanceof ServiceUnavailableException) {
      return error.getResponse() as HealthCheckResult;
    }
    throw error;
  }
}

/** A store whose acquisitions fail, as a Redis that went away, without a server to stop. */
class AcquisitionsFail extends MemoryLockStore {
  override async acquire(_request: AcquireRequest): Promise<AcquireResult> {
    throw new LockStoreError('Error: connect ECONNREFUSED');
  }
}

function detail(result: HealthCheckResult): Record<string, unknown> {
  return result.details['cron-lock'] as Record<string, unknown>;
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

describe('CronLockHealthIndicator', () => {
  it('is up with the round trip of the lock store', async () => {
    const app = await boot({
      redis: testRedisUrl(),
      keyPrefix: uniquePrefix('health'),
      logger: false,
    });

    const result = await check(app);

    expect(result.status).toBe('ok');
    expect(detail(result)).toEqual({
      status: 'up',
      roundTripMs: expect.any(Number),
      lostLocks: 0,
      storeErrors: 0,
      windowMs: 300_000,
      pausedJobs: [],
    });
    expect(detail(result).roundTripMs).toBeGreaterThanOrEqual(0);
  });

  it('lists the jobs paused fleet-wide and stays up', async () => {
    const keyPrefix = uniquePrefix('health-paused');
    const app = await boot({ redis: testRedisUrl(), keyPrefix, logger: false });
    const locks = app.get(CronLockService);
    await locks.pause('sync', { reason: 'maintenance' });
    // Another instance learns it from the answer to its own tick (here: a run for an occurrence).
    const other = await boot({ redis: testRedisUrl(), keyPrefix, logger: false });
    const skipped = await other
      .get(CronLockService)
      .run('sync', { ttl: '5s', scheduledAt: Date.now() - 1_000 }, () => 'never');
    expect(skipped).toEqual({ ran: false, reason: 'paused' });

    for (const app of [apps[0]!, other]) {
      const result = await check(app);
      expect(result.status).toBe('ok');
      expect(detail(result)).toMatchObject({ status: 'up', pausedJobs: ['sync'] });
    }
    await locks.resume('sync');
    expect(detail(await check(app)).pausedJobs).toEqual([]);
  });

  it('is down when the round trip is over maxRoundTripMs', async () => {
    const app = await boot({
      redis: testRedisUrl(),
      keyPrefix: uniquePrefix('health'),
      logger: false,
    });

    const result = await check(app, { maxRoundTripMs: 0.001 });

    expect(result.status).toBe('error');
    expect(detail(result)).toMatchObject({
      status: 'down',
      message: expect.stringMatching(/round trip [\d.]+ms is over maxRoundTripMs 0\.001/),
    });
  });

  it('is down while the store server is stopped, and up once it is back', async () => {
    const server = await startRedisServer();
    servers.push(server);
    const app = await boot({ redis: server.url, keyPrefix: uniquePrefix('health'), logger: false });
    expect(detail(await check(app)).status).toBe('up');

    await server.stop();
    const down = await check(app, { timeout: '5s' });

    expect(down.status).toBe('error');
    expect(detail(down)).toMatchObject({
      status: 'down',
      roundTripMs: null,
      message: expect.stringContaining('lock store unreachable'),
    });

    await server.restart();
    await waitFor(async () => detail(await check(app)).status === 'up', {
      timeout: 20_000,
      message: 'up after the server restarted',
    });
  });

  it('is down after a lock was lost mid-run, and up again once the window has passed', async () => {
    const keyPrefix = uniquePrefix('health');
    const app = await boot({ redis: testRedisUrl(), keyPrefix, logger: false });
    const redis = newRedisClient();
    try {
      await app.get(CronLockService).run('nightly', { ttl: 900 }, async (ctx) => {
        await redis.del(`${keyPrefix}:{nightly}:lock`);
        await waitFor(() => ctx.signal.aborted, { timeout: 10_000, message: 'signal aborted' });
      });
    } finally {
      await redis.quit();
    }
    const window = 2_000;

    const down = await check(app, { window });

    expect(down.status).toBe('error');
    expect(detail(down)).toMatchObject({
      status: 'down',
      message: expect.stringContaining(
        '1 lock(s) lost within the last 2000ms (last: "nightly", expired)',
      ),
      roundTripMs: expect.any(Number),
      lostLocks: 1,
      windowMs: 2_000,
      lastLost: { job: 'nightly', reason: 'expired', at: expect.any(String) },
    });
    await waitFor(async () => detail(await check(app, { window })).status === 'up', {
      timeout: 15_000,
      interval: 200,
      message: 'up after the window',
    });
    expect(detail(await check(app, { window }))).toMatchObject({ lostLocks: 0 });
  });

  it('is down after storeErrorThreshold store errors within the window, not before', async () => {
    const server = await startRedisServer();
    servers.push(server);
    const app = await boot({ redis: server.url, keyPrefix: uniquePrefix('health'), logger: false });
    const locks = app.get(CronLockService);
    const options = { window: '5m', storeErrorThreshold: 3 } as const;
    const failedRun = async () =>
      expect(await locks.run('sync', { ttl: '5s' }, () => 'never')).toEqual({
        ran: false,
        reason: 'store-error',
      });

    await server.stop();
    await failedRun();
    await failedRun();
    await server.restart();
    const below = await waitFor(
      async () => {
        const result = detail(await check(app, options));
        return result.roundTripMs !== null && result;
      },
      { timeout: 20_000, message: 'store answers again' },
    );
    expect(below).toMatchObject({ status: 'up', storeErrors: 2 });

    await server.stop();
    await failedRun();
    await server.restart();
    const atThreshold = await waitFor(
      async () => {
        const result = detail(await check(app, options));
        return result.roundTripMs !== null && result;
      },
      { timeout: 20_000, message: 'store answers again' },
    );

    expect(atThreshold).toMatchObject({
      status: 'down',
      storeErrors: 3,
      message: expect.stringMatching(
        /^3 store errors within the last 300000ms \(threshold 3; last: acquire of "sync": /,
      ),
      lastStoreError: { job: 'sync', operation: 'acquire', message: expect.any(String) },
    });
    // The same history through a window that no longer covers it: up.
    expect(detail(await check(app, { ...options, window: 1 }))).toMatchObject({
      status: 'up',
      storeErrors: 0,
    });
  });

  // The indicator keeps the last 1000 store errors: a higher threshold could never be reached,
  // and the check would stay up through any outage.
  it('refuses a storeErrorThreshold above the 1000 store errors it keeps, and is down at 1000', async () => {
    const app = await boot({ store: new AcquisitionsFail(), logger: false });
    const locks = app.get(CronLockService);
    for (let i = 0; i < 1_001; i++) {
      expect(await locks.run('sync', { ttl: '5s' }, () => 'never')).toEqual({
        ran: false,
        reason: 'store-error',
      });
    }

    expect(detail(await check(app, { storeErrorThreshold: 1_000 }))).toMatchObject({
      status: 'down',
      storeErrors: 1_000,
    });
    const refused = app
      .get(CronLockHealthIndicator)
      .isHealthy('cron-lock', { storeErrorThreshold: 1_001 });
    await expect(refused).rejects.toThrow(CronLockConfigError);
    await expect(refused).rejects.toThrow(
      /CronLockHealthIndicator\.isHealthy: storeErrorThreshold 1001 is not a whole number from 1 to 1000\b.*Fix:/,
    );
  });

  // `maxRoundTripMs: config.get('HEALTH_MAX_RTT')` unset must not quietly mean "no limit".
  it.each([
    ['maxRoundTripMs', undefined],
    ['timeout', undefined],
    ['window', null],
    ['storeErrorThreshold', undefined],
  ])('rejects %s: %s instead of taking its default', async (option, value) => {
    const app = await boot({
      redis: testRedisUrl(),
      keyPrefix: uniquePrefix('health'),
      logger: false,
    });

    await expect(
      app.get(CronLockHealthIndicator).isHealthy('cron-lock', { [option]: value }),
    ).rejects.toThrow(
      new RegExp(`CronLockHealthIndicator\\.isHealthy: option ${option} is present but .*Fix:`),
    );
  });

  it('fails app.init() with the fix when CronLockModule is missing', async () => {
    await expect(boot(false)).rejects.toThrow(/CronLockHealthIndicator.*CronLockModule\.forRoot/);
  });
});
