// A pause lives in the job's state in the store: a Redis restart without persistence, or the
// job's row deleted on PostgreSQL, ends it without a resume, and the job runs again. An instance that knew the pause says so, once.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type pg from 'pg';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { CapturingLogger } from '../support/capturing-logger.js';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const MINUTE = 60_000;

/** Whole minutes of the recent past: occurrences the store takes (not ahead of its clock). */
const occurrence = (minutesAgo: number): number =>
  Math.floor(Date.now() / MINUTE) * MINUTE - minutesAgo * MINUTE;

const lostPauseLines = (logger: CapturingLogger): string[] =>
  logger.lines
    .filter((line) => line.level === 'warn' && /pause/i.test(line.message))
    .map((line) => line.message);

/** The lost-pause lines, once there is one: it is logged off the run's path. */
const warned = (logger: CapturingLogger): Promise<string[]> =>
  waitFor(() => (lostPauseLines(logger).length > 0 ? lostPauseLines(logger) : undefined), {
    message: 'the lost pause warning',
  });

describe('a pause lost with the store', () => {
  const apps: TestingModule[] = [];
  const servers: RedisServerHandle[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  async function boot(
    redis: string,
    keyPrefix: string,
  ): Promise<{ locks: CronLockService; logger: CapturingLogger }> {
    const logger = new CapturingLogger();
    const app = await Test.createTestingModule({
      imports: [
        CronLockModule.forRoot({ redis, keyPrefix, logger, instanceId: `i-${apps.length}` }),
      ],
    }).compile();
    apps.push(app);
    await app.init();
    return { locks: app.get(CronLockService), logger };
  }

  it('warns once, naming the job, when a Redis restart without persistence ended a pause it knew', async () => {
    const server = await startRedisServer();
    servers.push(server);
    const { locks, logger } = await boot(server.url, uniquePrefix('lost-pause'));
    const run = (minutesAgo: number) =>
      locks.run('nightly-report', { ttl: '10s', scheduledAt: occurrence(minutesAgo) }, () => 'ran');

    expect(await run(4)).toMatchObject({ ran: true });
    await locks.pause('nightly-report', { reason: 'vendor outage' });
    expect(await run(3)).toMatchObject({ ran: false, reason: 'paused' });
    expect(locks.pausedJobs).toEqual(['nightly-report']);

    await server.restart();

    // Nothing resumed the job: the restart took its pause with the rest of its state.
    expect(await run(2)).toMatchObject({ ran: true });
    const lines = await warned(logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"nightly-report"');
    expect(lines[0]).toMatch(/pause it again/);
    expect(locks.pausedJobs).toEqual([]);

    expect(await run(1)).toMatchObject({ ran: true });
    expect(lostPauseLines(logger)).toHaveLength(1);
  });

  it('says nothing when another instance resumed the job', async () => {
    const server = await startRedisServer();
    servers.push(server);
    const keyPrefix = uniquePrefix('resumed-elsewhere');
    const { locks, logger } = await boot(server.url, keyPrefix);
    const admin = await boot(server.url, keyPrefix);
    const run = (minutesAgo: number) =>
      locks.run('nightly-report', { ttl: '10s', scheduledAt: occurrence(minutesAgo) }, () => 'ran');

    expect(await run(3)).toMatchObject({ ran: true });
    await locks.pause('nightly-report');
    expect(await run(2)).toMatchObject({ ran: false, reason: 'paused' });
    await admin.locks.resume('nightly-report');

    expect(await run(1)).toMatchObject({ ran: true });
    expect(lostPauseLines(logger)).toEqual([]);
    expect(locks.pausedJobs).toEqual([]);
  });
});

const YEARLY_JOB = 'lost-pause-yearly';

@Injectable()
class YearlyJob {
  // Once a year: its schedule is registered at bootstrap, and no scheduler tick runs in the test.
  @LockedCron('0 0 1 1 *', { ttl: '10s', name: YEARLY_JOB })
  async report(): Promise<void> {}
}

interface Backend {
  /** Module options of one more app on the same store. */
  options(): CronLockModuleOptions;
  /** Drops the job's whole state, as a Redis restart without persistence does; absent: cannot. */
  lose?(): Promise<void>;
  cleanup(): Promise<void>;
}

function memoryBackend(): Promise<Backend> {
  const store = new MemoryLockStore();
  return Promise.resolve({ options: () => ({ store }), cleanup: () => store.close() });
}

/** `ownServer`: a redis-server of the test's own, which `lose()` restarts without persistence. */
async function redisBackend(ownServer: boolean): Promise<Backend> {
  const keyPrefix = uniquePrefix('lost-pause');
  if (!ownServer) {
    return { options: () => ({ redis: testRedisUrl(), keyPrefix }), cleanup: async () => {} };
  }
  const server = await startRedisServer();
  return {
    options: () => ({ redis: server.url, keyPrefix }),
    lose: () => server.restart(),
    cleanup: () => server.stop(),
  };
}

function postgresBackend(): Promise<Backend> {
  const table = uniqueTable('lost_pause');
  const pools: pg.Pool[] = [];
  const pool = (): pg.Pool => {
    const created = newPool({ max: 2 });
    pools.push(created);
    return created;
  };
  return Promise.resolve({
    options: () => ({ store: new PostgresLockStore(pool(), { table, logger: false }) }),
    lose: async () => {
      await pools[0]!.query(`DELETE FROM "${table}" WHERE name = $1`, [YEARLY_JOB]);
    },
    cleanup: async () => {
      if (pools[0]) await dropTable(pools[0], table);
      await Promise.all(pools.map((created) => created.end()));
    },
  });
}

describe.each([
  ['memory', memoryBackend],
  ['Redis', () => redisBackend(false)],
  ['PostgreSQL', postgresBackend],
])('a pause of a job with a registered schedule, on the %s store', (_label, makeBackend) => {
  const modules: TestingModule[] = [];
  let backend: Backend | undefined;
  afterEach(async () => {
    await Promise.all(modules.splice(0).map((module) => module.close()));
    await backend?.cleanup();
    backend = undefined;
  });

  async function boot(
    instanceId: string,
    withJob: boolean,
  ): Promise<{ locks: CronLockService; logger: CapturingLogger }> {
    const logger = new CapturingLogger();
    const module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ ...backend!.options(), instanceId, logger }),
      ],
      providers: withJob ? [YearlyJob] : [],
    }).compile();
    modules.push(module);
    await module.init();
    return { locks: module.get(CronLockService), logger };
  }

  it('says nothing when another instance resumed the job before any occurrence was claimed', async () => {
    backend = await makeBackend();
    const worker = await boot('lost-pause-worker', true);
    const admin = await boot('lost-pause-admin', false);
    expect((await worker.locks.inspect(YEARLY_JOB)).cron).toBe('0 0 1 1 *');

    await worker.locks.pause(YEARLY_JOB, { reason: 'vendor outage' });
    expect(worker.locks.pausedJobs).toEqual([YEARLY_JOB]);
    expect(await admin.locks.resume(YEARLY_JOB)).toBe(true);

    // No occurrence was ever claimed: the store reports none before this one, as after a loss.
    const ran = await worker.locks.run(
      YEARLY_JOB,
      { ttl: '10s', scheduledAt: occurrence(1) },
      () => 'ran',
    );
    expect(ran).toMatchObject({ ran: true });
    expect(worker.locks.pausedJobs).toEqual([]);
    // Proving a line is NOT written: a round trip of the store, then a short bounded wait for
    // anything asked off the run's path to have answered.
    await worker.locks.inspect(YEARLY_JOB);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lostPauseLines(worker.logger)).toEqual([]);
  }, 30_000);
});

/** What the warning must say of the store in use, and what it must not (another store's fix). */
interface LossWording {
  says: RegExp[];
  never: RegExp;
}

describe.each<[string, () => Promise<Backend>, LossWording]>([
  [
    'Redis restarted without persistence',
    () => redisBackend(true),
    { says: [/Redis restart without persistence/, /appendonly yes/], never: /PostgreSQL|row/ },
  ],
  [
    'PostgreSQL row deleted',
    postgresBackend,
    { says: [/PostgreSQL/, /row .*deleted|deleted .*row/], never: /Redis|appendonly/ },
  ],
])(
  'a pause of a job with a registered schedule lost with its state (%s)',
  (_label, makeBackend, wording) => {
    const modules: TestingModule[] = [];
    let backend: Backend | undefined;
    afterEach(async () => {
      await Promise.all(modules.splice(0).map((module) => module.close()));
      await backend?.cleanup();
      backend = undefined;
    });

    it('still warns once, naming the job and the cause and fix for the store in use', async () => {
      backend = await makeBackend();
      const logger = new CapturingLogger();
      const module = await Test.createTestingModule({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({ ...backend.options(), instanceId: 'lost-pause-worker', logger }),
        ],
        providers: [YearlyJob],
      }).compile();
      modules.push(module);
      await module.init();
      const locks = module.get(CronLockService);
      expect((await locks.inspect(YEARLY_JOB)).cron).toBe('0 0 1 1 *');
      await locks.pause(YEARLY_JOB);

      await backend.lose!();

      const run = (minutesAgo: number) =>
        locks.run(YEARLY_JOB, { ttl: '10s', scheduledAt: occurrence(minutesAgo) }, () => 'ran');
      expect(await run(2)).toMatchObject({ ran: true });
      const lines = await warned(logger);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`"${YEARLY_JOB}"`);
      // The cause and the fix are those of the store in use, not another's.
      for (const said of wording.says) expect(lines[0]).toMatch(said);
      expect(lines[0]).not.toMatch(wording.never);
      expect(locks.pausedJobs).toEqual([]);
      expect(await run(1)).toMatchObject({ ran: true });
      expect(lostPauseLines(logger)).toHaveLength(1);
    }, 30_000);
  },
);
