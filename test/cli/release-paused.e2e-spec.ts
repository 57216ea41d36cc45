// `nestjs-cron-lock release <job>` on a job paused fleet-wide whose lock is still held (a run that
// was in progress when the pause came, or a holder that crashed): freeing the lock starts nothing,
// and the command must not tell the operator that another instance takes the next occurrence.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisLockStore } from 'nestjs-cron-lock';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';

const NEXT_RUNS = 'the next occurrence runs on whichever instance ticks first';
const OTHERS_START = 'another instance may start the next occurrence';

describe('nestjs-cron-lock release of a paused job', () => {
  let prefix: string;
  let store: RedisLockStore;

  beforeEach(async () => {
    prefix = uniquePrefix('cli-release-held');
    store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    const held = await store.acquire({
      name: 'reports',
      token: randomBytes(16).toString('hex'),
      ttl: 600_000,
      scheduledAt: Math.floor(Date.now() / 1_000) * 1_000 - 10_000,
      instanceId: 'worker-1',
    });
    expect(held.acquired).toBe(true);
  });

  afterEach(async () => {
    await store.close();
  });

  const release = (): ReturnType<typeof runCli> =>
    runCli(['release', 'reports', '--redis', testRedisUrl(), '--prefix', prefix, '--yes']);

  it('says the job stays paused until resumed, not that the next occurrence runs', async () => {
    await store.pause('reports', { reason: 'vendor outage', until: null });

    const run = await release();

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(await store.inspect('reports')).toMatchObject({ ttlLeft: null, paused: true });
    expect(run.stdout).toContain('Released the lock of "reports" (was held by worker-1');
    expect(run.stdout).toContain(
      'the job is paused until resumed, so no occurrence runs before then ' +
        '(nestjs-cron-lock resume reports).',
    );
    expect(run.stdout).not.toContain(NEXT_RUNS);
    expect(run.stdout).not.toContain(OTHERS_START);
  });

  it('names the end of a pause with --until', async () => {
    await store.pause('reports', { reason: null, until: Date.now() + 3_600_000 });

    const run = await release();

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /the job is paused until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, so no occurrence runs before then/,
    );
    expect(run.stdout).not.toContain(NEXT_RUNS);
    expect(run.stdout).not.toContain(OTHERS_START);
  });

  it('still says the next occurrence runs when the job is not paused', async () => {
    const run = await release();

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(NEXT_RUNS);
    expect(run.stdout).toContain(OTHERS_START);
    expect(run.stdout).not.toContain('paused');
  });
});
