import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type CronLockEvents,
  type CronLockModuleOptions,
  type LockContext,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { CapturingLogger } from '../support/capturing-logger.js';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { duplicateOccurrences, recordedRun, type RunRecord } from '../support/run-log.js';

const JOB = 'fleet-every-second';
const PAUSED_LINE = 'skipped: the job is paused';

/** Runs of the per-second job, from every app of the running test. */
const runs: RunRecord[] = [];

@Injectable()
class EverySecondJob {
  @LockedCron('* * * * * *', { ttl: '5s', name: JOB })
  async tick(ctx: LockContext): Promise<void> {
    runs.push(await recordedRun(ctx));
  }
}

interface App {
  instanceId: string;
  module: TestingModule;
  locks: CronLockService;
  logger: CapturingLogger;
  skipped: Array<CronLockEvents['skipped']>;
  alerts: Array<CronLockEvents['alert']>;
}

/** How each store's apps connect: one shared Redis, or one shared PostgreSQL table. */
interface Backend {
  label: string;
  /** Module options for one app (its own client or pool). */
  options(): CronLockModuleOptions;
  cleanup(): Promise<void>;
}

function redisBackend(): Backend {
  const keyPrefix = uniquePrefix('fleet');
  return {
    label: 'Redis',
    options: () => ({ redis: testRedisUrl(), keyPrefix }),
    cleanup: async () => undefined,
  };
}

function postgresBackend(): Backend {
  const table = uniqueTable('fleet');
  const pools: pg.Pool[] = [];
  return {
    label: 'PostgreSQL',
    options: () => {
      const pool = newPool({ max: 2 });
      pools.push(pool);
      return { store: new PostgresLockStore(pool, { table, logger: false }) };
    },
    cleanup: async () => {
      if (pools[0]) await dropTable(pools[0], table);
      await Promise.all(pools.map((pool) => pool.end()));
    },
  };
}

/** One MemoryLockStore shared by the apps of one process, on its synchronous acquireNow path. */
function memoryBackend(): Backend {
  const store = new MemoryLockStore();
  return { label: 'memory', options: () => ({ store }), cleanup: () => store.close() };
}

describe.each([
  ['MemoryLockStore', memoryBackend],
  ['Redis', redisBackend],
  ['PostgreSQL', postgresBackend],
])('fleet control across apps sharing one %s store', (_label, makeBackend) => {
  let apps: App[] = [];
  let backend: Backend;

  afterEach(async () => {
    await Promise.all(apps.map((app) => app.module.close()));
    apps = [];
    runs.length = 0;
    await backend?.cleanup();
  });

  async function boot(instanceId: string, withCron = true): Promise<App> {
    const logger = new CapturingLogger();
    const module = await Test.createTestingModule({
      imports: [
        ...(withCron ? [ScheduleModule.forRoot()] : []),
        CronLockModule.forRoot({
          ...backend.options(),
          instanceId,
          logger,
          alerts: { missedPeriods: 2 },
        }),
      ],
      providers: withCron ? [EverySecondJob] : [],
    }).compile();
    const locks = module.get(CronLockService);
    const app: App = { instanceId, module, locks, logger, skipped: [], alerts: [] };
    locks.on('skipped', (event) => app.skipped.push(event));
    locks.on('alert', (event) => app.alerts.push(event));
    apps.push(app);
    await module.init();
    return app;
  }

  const pausedSkips = (): Array<CronLockEvents['skipped']> =>
    apps.flatMap((app) => app.skipped).filter((event) => event.reason === 'paused');

  it('pauses a job fleet-wide with one skip logged per occurrence, records it all in the history, and resumes it', async () => {
    backend = makeBackend();
    const [first] = await Promise.all(['fleet-1', 'fleet-2', 'fleet-3'].map((id) => boot(id)));
    const events: string[] = [];
    first!.locks.on('paused', (event) => events.push(`paused:${event.name}:${event.reason}`));
    first!.locks.on('resumed', (event) => events.push(`resumed:${event.wasPaused}`));
    await waitFor(() => runs.length >= 2, { timeout: 20_000, message: 'two runs before pausing' });

    await first!.locks.pause(JOB, { reason: 'maintenance window' });
    const pausedAt = Date.now();
    const state = await apps[2]!.locks.inspect(JOB);
    expect(state).toMatchObject({
      paused: true,
      pauseReason: 'maintenance window',
      pausedUntil: null,
      cron: '* * * * * *',
      timeZone: null,
    });
    expect(state.nextAt!.getTime()).toBeGreaterThan(pausedAt - 1_000);

    await waitFor(() => new Set(pausedSkips().map((e) => e.scheduledAt!.getTime())).size >= 3, {
      timeout: 20_000,
      message: 'three occurrences skipped while paused',
    });
    expect(await first!.locks.resume(JOB)).toBe(true);
    const resumedAt = Date.now();
    await waitFor(() => runs.some((run) => run.scheduledAt >= resumedAt), {
      timeout: 20_000,
      message: 'a run after resuming',
    });
    await Promise.all(apps.map((app) => app.module.close()));

    // No occurrence due after the pause was stored ran anywhere until the resume.
    const pausedRuns = runs.filter((r) => r.scheduledAt >= pausedAt && r.scheduledAt < resumedAt);
    expect(pausedRuns).toEqual([]);
    expect(duplicateOccurrences(runs)).toEqual([]);
    // Each paused occurrence was claimed by one instance: one event and one log line for the fleet.
    const pausedOccurrences = pausedSkips().map((e) => e.scheduledAt!.getTime());
    expect(new Set(pausedOccurrences).size).toBe(pausedOccurrences.length);
    const pausedLines = apps.flatMap((app) =>
      app.logger.lines.filter((line) => line.message.includes(PAUSED_LINE)),
    );
    expect(pausedLines).toHaveLength(pausedOccurrences.length);
    expect(events).toEqual(['paused:fleet-every-second:maintenance window', 'resumed:true']);
    // Three occurrences without a success, on purpose: no instance raised a missed-success alert.
    expect(apps.flatMap((app) => app.alerts).filter((a) => a.kind === 'missed-success')).toEqual(
      [],
    );

    // The history has every run and every paused occurrence, once each, newest first.
    const checker = await boot('fleet-reader', false);
    const history = await checker.locks.history(JOB, { limit: 1_000 });
    const finished = history.map((entry) => entry.finishedAt!.getTime());
    expect(finished).toEqual([...finished].sort((a, b) => b - a));
    const historyRuns = history.filter((entry) => entry.kind === 'run');
    expect(historyRuns.map((entry) => entry.scheduledAt!.getTime()).sort()).toEqual(
      runs.map((run) => run.scheduledAt).sort(),
    );
    for (const entry of historyRuns) {
      const run = runs.find((r) => r.scheduledAt === entry.scheduledAt!.getTime())!;
      expect(entry).toMatchObject({
        instanceId: run.instance,
        fencingToken: run.fencingToken,
        trigger: 'schedule',
        outcome: 'completed',
        error: null,
      });
      expect(entry.durationMs).toBeGreaterThanOrEqual(0);
    }
    const historyPaused = history.filter((entry) => entry.kind === 'paused');
    expect(historyPaused.map((entry) => entry.scheduledAt!.getTime()).sort()).toEqual(
      [...pausedOccurrences].sort(),
    );
    expect((await checker.locks.inspect(JOB)).paused).toBe(false);
  }, 90_000);

  it('resumes by itself once until has passed', async () => {
    backend = makeBackend();
    const [first] = await Promise.all(['until-1', 'until-2'].map((id) => boot(id)));
    await first!.locks.pause(JOB, { until: '2s' });
    const pausedAt = Date.now();
    const until = (await first!.locks.inspect(JOB)).pausedUntil!.getTime();
    await waitFor(() => runs.some((run) => run.scheduledAt >= until), {
      timeout: 20_000,
      message: 'a run once the pause ended',
    });
    expect(runs.filter((run) => run.scheduledAt >= pausedAt && run.scheduledAt < until)).toEqual(
      [],
    );
    expect(pausedSkips().length).toBeGreaterThanOrEqual(1);
    expect((await first!.locks.inspect(JOB)).paused).toBe(false);
  }, 60_000);

  it('lets a run in progress finish, and records a failure with its redacted error', async () => {
    backend = makeBackend();
    const app = await boot('inflight-1', false);
    let letGo: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    let started = false;
    // record: true, as `fleet-long` is no job's name: a plain lock checks no pause and keeps no history.
    const running = app.locks.run('fleet-long', { ttl: '5s', record: true }, async (ctx) => {
      started = true;
      await gate;
      expect(ctx.signal.aborted).toBe(false);
      throw new Error('upstream redis://ops:s3cret@cache.internal:6379 refused');
    });
    await waitFor(() => started, { message: 'the run to start' });
    await app.locks.pause('fleet-long', { reason: 'stop after this one' });
    letGo();
    await expect(running).rejects.toThrow(/refused/);
    expect(await app.locks.run('fleet-long', { record: true }, async () => 'again')).toEqual({
      ran: false,
      reason: 'paused',
    });
    const [entry] = await app.locks.history('fleet-long');
    expect(entry).toMatchObject({ kind: 'run', outcome: 'failed', trigger: 'manual' });
    expect(entry!.error).toContain('refused');
    expect(entry!.error).not.toContain('s3cret');
  }, 60_000);

  it('refuses bad arguments with a CronLockConfigError naming the call, before the store', async () => {
    backend = makeBackend();
    const { locks } = await boot('args-1', false);
    const now = Date.now();
    const cases: Array<[Promise<unknown>, RegExp]> = [
      [locks.pause('bad name{}'), /CronLockService\.pause\("bad name\{\}"\)/],
      [locks.pause(JOB, { reason: '' }), /reason/],
      [locks.pause(JOB, { reason: 'x'.repeat(501) }), /reason/],
      [locks.pause(JOB, { reason: 'two\nlines' }), /reason/],
      [locks.pause(JOB, { until: new Date(now - 1_000) }), /until.*future/],
      [locks.pause(JOB, { until: '30d' }), /until.*2147483647ms/],
      // The refused Date is quoted as a date, not as "an object".
      [
        locks.pause(JOB, { until: new Date(Date.UTC(2099, 0, 2, 3, 4, 5)) }),
        /until 2099-01-02T03:04:05\.000Z is not allowed/,
      ],
      [locks.pause(JOB, { until: new Date(NaN) }), /until Invalid Date is not allowed/],
      [locks.pause(JOB, { until: 'soon' as never }), /until/],
      [locks.pause(JOB, { untill: '1h' } as never), /untill/],
      [locks.resume(''), /resume/],
      [locks.history(JOB, { limit: 0 }), /limit.*1 to 1000/],
      [locks.history(JOB, { limit: 1.5 }), /limit/],
    ];
    for (const [attempt, message] of cases) {
      await expect(attempt).rejects.toBeInstanceOf(CronLockConfigError);
      await expect(attempt).rejects.toThrow(message);
    }
    expect((await locks.inspect(JOB)).paused).toBe(false);
    // A job no instance registered can be paused ahead, and shows as paused.
    await locks.pause('not-deployed-yet', { reason: 'ahead of the release' });
    expect(await locks.inspect('not-deployed-yet')).toMatchObject({
      paused: true,
      cron: null,
      nextAt: null,
    });
    expect(await locks.resume('not-deployed-yet')).toBe(true);
  }, 60_000);
});
