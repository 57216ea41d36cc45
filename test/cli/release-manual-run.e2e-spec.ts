// `nestjs-cron-lock release <job>` on a lock held by a manual run (run() without scheduledAt, a
// triggered run, `trigger --force`) on a job that has claimed no occurrence: the lines say so in
// words, never a placeholder where a time would stand (test Redis).
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisLockStore } from 'nestjs-cron-lock';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';

describe('nestjs-cron-lock release of a run with no occurrence', () => {
  let prefix: string;
  let store: RedisLockStore;

  beforeEach(() => {
    prefix = uniquePrefix('cli-release-manual');
    store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
  });

  afterEach(async () => {
    await store.close();
  });

  const cli = (...args: string[]): string[] => [
    'release',
    ...args,
    '--redis',
    testRedisUrl(),
    '--prefix',
    prefix,
  ];

  it('names the holder a manual or triggered run, before and after releasing it', async () => {
    // What run('nightly', undefined, fn) or a trigger holds: a lock with no scheduledAt.
    const held = await store.acquire({
      name: 'nightly',
      token: randomBytes(16).toString('hex'),
      ttl: 600_000,
      instanceId: 'worker-1',
    });
    expect(held.acquired).toBe(true);
    const fence = held.acquired ? held.fencingToken : 0;

    const run = await runCli(cli('nightly', '--yes'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(
        `is locked by worker-1: ttl left \\S+, fence ${fence}, a manual or triggered run ` +
          '\\(no occurrence\\)\\.\\n',
      ),
    );
    expect(run.stdout).toContain(
      `Released the lock of "nightly" (was held by worker-1, fence ${fence}). It ran no ` +
        'occurrence (a manual or triggered run), so none is marked as run; the next occurrence ' +
        'runs on whichever instance ticks first.',
    );
    expect(run.stdout).not.toContain(' - UTC');

    const again = await runCli(cli('nightly'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(
      `The lock of "nightly" is free (no occurrence claimed yet, fence ${fence}): ` +
        'nothing to release.\n',
    );
  });
});
