// `nestjs-cron-lock release <job>` against the test Redis: the safety checks, what it deletes
// (the lock, never the occurrence marker), and a waiting app taking over.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  RedisLockStore,
  type LockContext,
} from 'nestjs-cron-lock';
import { runCli as runCliInProcess } from '../../lib/cli/cli.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { HAS_SCRIPT, runCli } from './cli-process.js';

/** The occurrence the crashed holder was running, in the past. */
const STUCK_TICK = Math.floor(Date.now() / 1_000) * 1_000 - 10_000;

@Injectable()
class WaitingJobs {
  readonly runs: LockContext[] = [];

  @LockedCron('* * * * * *', { name: 'stuck', ttl: '10s' })
  async everySecond(ctx: LockContext): Promise<void> {
    this.runs.push(ctx);
  }
}

describe('nestjs-cron-lock release', () => {
  let prefix: string;
  let store: RedisLockStore;
  let redis: Redis;
  /** When the stuck lock was taken (wall-clock ms, just before the call). */
  let lockedAt: number;
  const modules: TestingModule[] = [];

  beforeEach(async () => {
    prefix = uniquePrefix('cli-release');
    store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    redis = newRedisClient();
    // What a holder that crashed mid-run leaves: a lock with a long ttl, nobody renewing it.
    lockedAt = Date.now();
    const stuck = await store.acquire({
      name: 'stuck',
      token: randomBytes(16).toString('hex'),
      ttl: 600_000,
      scheduledAt: STUCK_TICK,
      instanceId: 'crashed-instance',
    });
    expect(stuck.acquired).toBe(true);
  });

  afterEach(async () => {
    await Promise.all(modules.splice(0).map((moduleRef) => moduleRef.close()));
    await store.close();
    await redis.quit();
  });

  const cli = (...args: string[]): string[] => [
    'release',
    ...args,
    '--redis',
    testRedisUrl(),
    '--prefix',
    prefix,
  ];

  it('refuses without --yes when stdin is not a terminal, and leaves the lock', async () => {
    const run = await runCli(cli('stuck'));
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('"stuck" (prefix');
    // 10 minutes, less the time from the lock's taking to the CLI's read (which a loaded machine
    // stretches past seconds: the CLI boots first), rounded to the second.
    const shown = /is locked by crashed-instance: ttl left (\d+)m(\d\d)s/.exec(run.stdout);
    expect(shown, run.stdout).not.toBeNull();
    const shownMs = (Number(shown![1]) * 60 + Number(shown![2])) * 1_000;
    expect(shownMs).toBeLessThanOrEqual(600_000);
    expect(shownMs).toBeGreaterThanOrEqual(600_000 - (Date.now() - lockedAt) - 500);
    expect(run.stderr).toBe(
      'nestjs-cron-lock: Refusing to release "stuck" without confirmation: stdin is not a ' +
        'terminal. Re-run with --yes to release it.\n',
    );
    expect(await redis.pttl(store.keysOf('stuck').lock)).toBeGreaterThan(500_000);
  });

  it('with --yes deletes only the lock: the occurrence marker and fencing counter stay', async () => {
    const keys = store.keysOf('stuck');
    const stateBefore = await redis.hgetall(keys.state);

    const run = await runCli(cli('stuck', '--yes'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(
      'Released the lock of "stuck" (was held by crashed-instance, fence ' + stateBefore.fence,
    );
    expect(run.stdout).toContain('The occurrence marker stays');
    expect(await redis.exists(keys.lock)).toBe(0);
    expect(await redis.hgetall(keys.state)).toEqual(stateBefore);

    // The occurrence that was running does not run again; the next one does, with a higher token.
    const token = randomBytes(16).toString('hex');
    const base = { name: 'stuck', token, ttl: 5_000, instanceId: 'next' };
    expect(await store.acquire({ ...base, scheduledAt: STUCK_TICK })).toMatchObject({
      acquired: false,
      reason: 'tick-done',
    });
    const next = await store.acquire({ ...base, scheduledAt: STUCK_TICK + 1_000 });
    expect(next).toMatchObject({ acquired: true });
    expect(next.acquired && next.fencingToken).toBeGreaterThan(Number(stateBefore.fence));
    await store.release({ name: 'stuck', token });
  });

  it('with --yes frees the lock, and a waiting app runs the next occurrence', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ redis: testRedisUrl(), keyPrefix: prefix, logger: false }),
      ],
      providers: [WaitingJobs],
    }).compile();
    modules.push(moduleRef);
    const skipped: string[] = [];
    moduleRef.get(CronLockService).on('skipped', (event) => skipped.push(event.reason));
    await moduleRef.init();
    const jobs = moduleRef.get(WaitingJobs);

    // The app ticks every second and is turned away by the stuck lock.
    await waitFor(() => skipped.includes('held'), { timeout: 15_000, message: 'a held skip' });
    expect(jobs.runs).toHaveLength(0);

    const run = await runCli(cli('stuck', '--yes'));
    expect(run.code, run.stderr).toBe(0);
    const releasedAt = Date.now();

    await waitFor(() => jobs.runs.length > 0, { timeout: 15_000, message: 'the next run' });
    const [first] = jobs.runs;
    expect(first.scheduledAt.getTime()).toBeGreaterThan(STUCK_TICK);
    expect(first.scheduledAt.getTime()).toBeLessThanOrEqual(Date.now());
    expect(Date.now() - releasedAt).toBeLessThan(15_000);
  });

  it('asks on a terminal and releases on "y"', { skip: !HAS_SCRIPT }, async () => {
    const run = await runCli(cli('stuck'), {
      tty: { waitFor: 'Release the lock of "stuck"? [y/N]', answer: 'y\n' },
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('is locked by crashed-instance');
    expect(run.stdout).toContain('Released the lock of "stuck"');
    expect(await redis.exists(store.keysOf('stuck').lock)).toBe(0);
  });

  it(
    'asks on a terminal and keeps the lock on any other answer (exit 1)',
    { skip: !HAS_SCRIPT },
    async () => {
      const run = await runCli(cli('stuck'), {
        tty: { waitFor: 'Release the lock of "stuck"? [y/N]', answer: '\n' },
      });
      expect(run.code, run.stdout + run.stderr).toBe(1);
      expect(run.stdout).toContain('Not released.');
      expect(await redis.pttl(store.keysOf('stuck').lock)).toBeGreaterThan(500_000);
    },
  );

  it('deletes nothing when the lock changed hands while it asked', async () => {
    const keys = store.keysOf('stuck');
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    const stdout = new PassThrough();
    let output = '';
    stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exit = runCliInProcess(cli('stuck'), {
      stdin,
      stdout,
      stderr: stdout,
      env: {},
    });
    await waitFor(() => output.includes('[y/N]'), { timeout: 10_000, message: 'the prompt' });

    // Meanwhile the stuck lock expires and a new run takes the lock.
    await redis.del(keys.lock);
    const token = randomBytes(16).toString('hex');
    const taken = await store.acquire({
      name: 'stuck',
      token,
      ttl: 60_000,
      scheduledAt: STUCK_TICK + 1_000,
      instanceId: 'new-holder',
    });
    expect(taken.acquired).toBe(true);

    stdin.write('y\n');
    expect(await exit).toBe(1);
    expect(output).toContain('changed since it was read');
    expect(output).toContain('nothing was deleted');
    expect(await redis.get(keys.lock)).toBe(token);
  });

  it('says a free lock has nothing to release (exit 0)', async () => {
    await redis.del(store.keysOf('stuck').lock);
    const run = await runCli(cli('stuck'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^The lock of "stuck" is free \(last tick .* UTC, fence \d+\): nothing to release\.$/m,
    );
  });

  it('says a job an instance registered but never ran has nothing to release (exit 0), not that it does not exist', async () => {
    // What an app's bootstrap leaves for a job whose first occurrence has not come yet (an
    // hourly job just deployed): its schedule, which status lists, and no lock.
    await store.registerJob('fresh', { cron: '0 * * * *', timeZone: 'UTC' });
    const run = await runCli(cli('fresh'));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'The lock of "fresh" is free (no occurrence claimed yet, no fencing token yet): ' +
        'nothing to release.\n',
    );
  });

  it('names the jobs under the prefix when the job does not exist (exit 1)', async () => {
    const run = await runCli(cli('stuk', '--yes'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`No job "stuk" under prefix "${prefix}"`);
    expect(run.stderr).toContain('jobs there: stuck');
    expect(await redis.exists(store.keysOf('stuck').lock)).toBe(1);
  });
});
