// A pause lives in the job's state in Redis: a restart without persistence ends it without a
// resume, and the job runs again. An instance that knew the pause says so, once.
import { Test, type TestingModule } from '@nestjs/testing';
import { CronLockModule, CronLockService } from 'nestjs-cron-lock';
import { afterEach, describe, expect, it } from 'vitest';
import { CapturingLogger } from '../support/capturing-logger.js';
import { uniquePrefix } from '../support/redis.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const MINUTE = 60_000;

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

  /** Whole minutes of the recent past: occurrences the store takes (not ahead of its clock). */
  const occurrence = (minutesAgo: number): number =>
    Math.floor(Date.now() / MINUTE) * MINUTE - minutesAgo * MINUTE;

  const lostPauseLines = (logger: CapturingLogger): string[] =>
    logger.lines
      .filter((line) => line.level === 'warn' && /pause/i.test(line.message))
      .map((line) => line.message);

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
    const lines = lostPauseLines(logger);
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
