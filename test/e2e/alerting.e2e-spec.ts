import { Injectable, type LoggerService } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  RedisLockStore,
  type AcquireRequest,
  type AcquireResult,
  type CronLockAlert,
  type CronLockModuleOptions,
  type LockContext,
} from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

const EVERY_SECOND = '*/1 * * * * *';
const PERIOD = 1_000;

const SILENT: LoggerService = {
  log: () => undefined,
  error: () => undefined,
  warn: () => undefined,
};

/** How each app's copy of the job behaves, and what it did: set per test, per instance. */
const behaviour = new Map<string, { fail: boolean; runs: number; successes: number }>();

function behaviourOf(instanceId: string): { fail: boolean; runs: number; successes: number } {
  let entry = behaviour.get(instanceId);
  if (!entry) {
    entry = { fail: true, runs: 0, successes: 0 };
    behaviour.set(instanceId, entry);
  }
  return entry;
}

@Injectable()
class NightlyExport {
  constructor(private readonly locks: CronLockService) {}

  @LockedCron(EVERY_SECOND, { ttl: '5s', name: 'export' })
  async export(_ctx: LockContext): Promise<void> {
    const entry = behaviourOf(this.locks.instanceId);
    entry.runs += 1;
    if (entry.fail) {
      throw new Error('export failed');
    }
    entry.successes += 1;
  }
}

/** A Redis store that answers acquisitions late, so that another instance wins occurrences. */
class SlowAcquireStore extends RedisLockStore {
  override async acquire(request: AcquireRequest): Promise<AcquireResult> {
    await new Promise((resolve) => setTimeout(resolve, 400));
    return super.acquire(request);
  }
}

interface App {
  module: TestingModule;
  locks: CronLockService;
  logger: CapturingLogger;
  alerts: CronLockAlert[];
}

describe('alerting (real redis-server)', () => {
  let admin: Redis;
  let apps: App[] = [];
  let keyPrefix: string;
  const cleanups: Array<() => Promise<unknown>> = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeAll(() => {
    admin = newRedisClient();
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await admin.quit();
  });
  beforeEach((context) => {
    keyPrefix = uniquePrefix(`alerts-${context.task.name.slice(0, 20)}`);
    behaviour.clear();
    unhandled.length = 0;
  });
  afterEach(async () => {
    await Promise.all(apps.map((app) => app.module.close()));
    apps = [];
    while (cleanups.length) await cleanups.pop()!();
    expect(unhandled).toEqual([]);
  });

  async function boot(
    instanceId: string,
    options: CronLockModuleOptions,
    withJob = true,
  ): Promise<App> {
    const logger = new CapturingLogger();
    const module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        // A store passed in names its own keys: the prefix goes with redis only.
        CronLockModule.forRoot({
          ...('store' in options ? {} : { keyPrefix }),
          instanceId,
          logger,
          ...options,
        }),
      ],
      providers: withJob ? [NightlyExport] : [],
    })
      // @nestjs/schedule logs each failure of the job too: keep the test output readable.
      .setLogger(SILENT)
      .compile();
    const locks = module.get(CronLockService);
    const alerts: CronLockAlert[] = [];
    locks.on('alert', (alert) => alerts.push(alert));
    const app: App = { module, locks, logger, alerts };
    apps.push(app);
    await module.init();
    return app;
  }

  const ofKind = (app: App, kind: CronLockAlert['kind']): CronLockAlert[] =>
    app.alerts.filter((alert) => alert.kind === kind);

  it('alerts once when a job has not succeeded for N periods, and again only after a success', async () => {
    const missedPeriods = 2;
    const app = await boot('solo', { redis: testRedisUrl(), alerts: { missedPeriods } });
    const job = behaviourOf('solo');

    const first = await waitFor(() => ofKind(app, 'missed-success')[0], {
      timeout: 15_000,
      message: 'a missed-success alert',
    });
    // Counted from the first occurrence this instance saw: N failed runs came before it.
    expect(job.runs).toBeGreaterThanOrEqual(missedPeriods);
    expect(first).toMatchObject({
      kind: 'missed-success',
      name: 'export',
      instanceId: 'solo',
      lastSuccessAt: null,
      periodMs: PERIOD,
      threshold: missedPeriods,
    });
    if (first.kind !== 'missed-success') return;
    expect(first.missedPeriods).toBeGreaterThanOrEqual(missedPeriods);
    expect(first.scheduledAt).toBeInstanceOf(Date);
    expect(first.message).toContain('"export"');
    expect(app.logger.alertLines()).toEqual([first.message]);

    // The episode goes on for several more failed occurrences: still one alert, one log line.
    const runsAtAlert = job.runs;
    await waitFor(() => job.runs >= runsAtAlert + 3, {
      timeout: 15_000,
      message: 'three more failed runs',
    });
    expect(ofKind(app, 'missed-success')).toHaveLength(1);
    expect(app.logger.alertLines()).toHaveLength(1);

    // A success ends the episode and re-arms the alert.
    job.fail = false;
    const state = await waitFor(
      async () => {
        const inspected = await app.locks.inspect('export');
        return inspected.lastOutcome === 'completed' ? inspected : null;
      },
      { timeout: 10_000, message: 'a recorded success' },
    );
    expect(state.consecutiveFailures).toBe(0);
    expect(state.lastSuccessAt).toBeInstanceOf(Date);
    expect(state.lastDurationMs).toBeGreaterThanOrEqual(0);
    job.fail = true;

    const second = await waitFor(() => ofKind(app, 'missed-success')[1], {
      timeout: 15_000,
      message: 'a second missed-success alert after the success',
    });
    expect(second.kind === 'missed-success' && second.lastSuccessAt).toBeInstanceOf(Date);
    if (second.kind === 'missed-success' && second.lastSuccessAt) {
      expect(second.lastSuccessAt.getTime()).toBeGreaterThanOrEqual(state.lastSuccessAt!.getTime());
    }
    expect(app.logger.alertLines()).toHaveLength(2);

    const failing = await app.locks.inspect('export');
    expect(failing.lastOutcome).toBe('failed');
    expect(failing.consecutiveFailures).toBeGreaterThanOrEqual(missedPeriods);
    expect(failing.runningHere).toBe(false);
  });

  it("sees another instance's success through Redis and does not alert", async () => {
    const missedPeriods = 3;
    // `winner` answers first and always succeeds; `observer` answers 400 ms late, and its own
    // copy of the job always fails: only the fleet-wide success can keep it quiet.
    const winner = await boot('winner', { redis: testRedisUrl(), alerts: { missedPeriods } });
    const slowStore = new SlowAcquireStore(testRedisUrl(), { keyPrefix, logger: false });
    cleanups.push(() => slowStore.close());
    const observer = await boot('observer', { store: slowStore, alerts: { missedPeriods } });
    behaviourOf('winner').fail = false;
    behaviourOf('observer').fail = true;

    const ticksToWatch = missedPeriods + 3;
    await waitFor(() => behaviourOf('winner').successes >= ticksToWatch, {
      timeout: 20_000,
      message: `${ticksToWatch} successes on the winner`,
    });

    expect(behaviourOf('observer').successes).toBe(0);
    expect(ofKind(observer, 'missed-success')).toEqual([]);
    expect(ofKind(winner, 'missed-success')).toEqual([]);
    expect(observer.logger.alertLines()).toEqual([]);
    // The observer reads the winner's success from the store.
    const seen = await observer.locks.inspect('export');
    expect(seen.lastSuccessAt).toBeInstanceOf(Date);
    expect(seen.lastOutcome).toBe('completed');
  });

  describe('on a private server', () => {
    let server: RedisServerHandle;

    beforeAll(async () => {
      server = await startRedisServer();
    });
    afterAll(async () => {
      await server.stop();
    });

    it('alerts once after K store failures in a row, and again after the store answered', async () => {
      const storeFailures = 2;
      // missedPeriods high: this test is about the store, not the job's successes.
      const app = await boot('outage', {
        redis: server.url,
        alerts: { storeFailures, missedPeriods: 1_000 },
      });
      const job = behaviourOf('outage');
      job.fail = false;
      const acquireErrors: number[] = [];
      app.locks.on('store-error', (event) => {
        if (event.operation === 'acquire') acquireErrors.push(Date.now());
      });
      await waitFor(() => job.successes >= 1, { timeout: 10_000, message: 'a first success' });

      await server.stop();
      const alert = await waitFor(() => ofKind(app, 'store-failures')[0], {
        timeout: 20_000,
        message: 'a store-failures alert',
      });
      expect(acquireErrors.length).toBeGreaterThanOrEqual(storeFailures);
      expect(alert).toMatchObject({
        kind: 'store-failures',
        name: 'export',
        instanceId: 'outage',
        consecutiveFailures: storeFailures,
        threshold: storeFailures,
      });
      if (alert.kind !== 'store-failures') return;
      expect(alert.error.length).toBeGreaterThan(0);
      expect(app.logger.alertLines()).toEqual([alert.message]);

      // More failed ticks in the same outage: no new alert.
      const errorsAtAlert = acquireErrors.length;
      await waitFor(() => acquireErrors.length >= errorsAtAlert + 2, {
        timeout: 20_000,
        message: 'two more failed acquisitions',
      });
      expect(ofKind(app, 'store-failures')).toHaveLength(1);

      // Redis returns: ticks run again; a new outage is a new episode.
      await server.restart();
      const successes = job.successes;
      await waitFor(() => job.successes > successes, {
        timeout: 20_000,
        message: 'a success after Redis returned',
      });
      await server.stop();
      await waitFor(() => ofKind(app, 'store-failures').length === 2, {
        timeout: 20_000,
        message: 'a second store-failures alert',
      });
      expect(app.logger.alertLines()).toHaveLength(2);
      await server.restart();
    });
  });

  it('alerts when a run loses its lock, and records its outcome fleet-wide', async () => {
    const app = await boot('loser', { redis: testRedisUrl() }, false);
    const lockKey = `${keyPrefix}:{manual}:lock`;

    const run = app.locks.run('manual', { ttl: 600, record: true }, async (ctx) => {
      await admin.del(lockKey);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the lock loss went unnoticed')), 10_000);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(ctx.signal.reason as Error);
        });
      });
    });
    await expect(run).rejects.toMatchObject({ name: 'LockLostError', reason: 'expired' });

    const lost = ofKind(app, 'lost');
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({
      kind: 'lost',
      name: 'manual',
      instanceId: 'loser',
      reason: 'expired',
      scheduledAt: null,
    });
    if (lost[0].kind === 'lost') expect(lost[0].fencingToken).toBeGreaterThan(0);
    expect(app.logger.alertLines()).toEqual([lost[0].message]);
    // A job run by hand has no period: no missed-success alert, whatever happens.
    expect(ofKind(app, 'missed-success')).toEqual([]);

    // The lost run still happened: its failure is recorded in Redis with its release.
    const state = await app.locks.inspect('manual');
    expect(state).toMatchObject({
      holder: null,
      lastOutcome: 'failed',
      consecutiveFailures: 1,
      lastSuccessAt: null,
    });
    expect(state.lastFinishedAt).toBeInstanceOf(Date);
    const stateKey = `${keyPrefix}:{manual}:state`;
    expect(await admin.pttl(stateKey)).toBeGreaterThan(0);
  });

  it('raises no alert event and no alert line with alerts: false', async () => {
    const app = await boot('quiet', { redis: testRedisUrl(), alerts: false }, false);
    const lostEvents: unknown[] = [];
    app.locks.on('lost', (event) => lostEvents.push(event));
    const run = app.locks.run('manual', { ttl: 600, record: true }, async (ctx) => {
      await admin.del(`${keyPrefix}:{manual}:lock`);
      await waitFor(() => ctx.signal.aborted, { timeout: 10_000, message: 'the abort' });
    });
    await expect(run).resolves.toMatchObject({ ran: true });
    expect(lostEvents).toHaveLength(1);
    expect(app.alerts).toEqual([]);
    expect(app.logger.alertLines()).toEqual([]);
    expect((await app.locks.inspect('manual')).lastOutcome).toBe('completed');
  });

  describe('options are checked at bootstrap', () => {
    it.each([
      [{ missedPeriods: 0 }, 'alerts.missedPeriods must be a whole number ≥ 1, got 0'],
      [{ storeFailures: 1.5 }, 'alerts.storeFailures must be a whole number ≥ 1, got 1.5'],
      [{ missedPeriods: '3' }, 'alerts.missedPeriods must be a whole number ≥ 1, got "3"'],
      [{ missed: 3 }, 'option alerts.missed must be one of missedPeriods, storeFailures'],
      [true, 'option alerts must be { missedPeriods?, storeFailures? } or false, got true'],
    ])('rejects alerts: %j', async (alerts, message) => {
      await expect(
        boot(
          'bad',
          { redis: testRedisUrl(), alerts: alerts as CronLockModuleOptions['alerts'] },
          false,
        ),
      ).rejects.toThrow(message);
    });

    it('accepts the documented shapes', async () => {
      // Left out, not `alerts: undefined`: a key present but empty is an error (module options).
      const shapes: CronLockModuleOptions[] = [
        {},
        { alerts: false },
        { alerts: {} },
        { alerts: { missedPeriods: 5, storeFailures: 1 } },
      ];
      for (const [index, alerts] of shapes.entries()) {
        const app = await boot(`ok-${index}`, { redis: testRedisUrl(), ...alerts }, false);
        expect(app.locks.instanceId).toMatch(/^ok-/);
      }
    });
  });
});
