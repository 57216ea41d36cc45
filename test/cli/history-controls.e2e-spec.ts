// A history entry whose stored text carries characters that would drive the terminal or reorder
// the line, as an older version or a custom store may have kept it: a C1 CSI, a bidi override, a
// bidi isolate. `nestjs-cron-lock history` prints its table cells in stored order, each of those
// characters a space, as the dashboard shows them; so do `status` and `release` with a lock's holder.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisLockStore } from 'nestjs-cron-lock';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';

/** C1 controls, the Unicode line separators, and the bidi embeddings, overrides and isolates. */
const UNSHOWN = /[\u0080-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('history entries whose stored text carries C1 or bidi controls', () => {
  let prefix: string;
  let store: RedisLockStore;
  let redis: Redis;

  beforeEach(async () => {
    prefix = uniquePrefix('history-controls');
    store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    redis = newRedisClient();
    const at = Date.now() - 60_000;
    const entry = {
      kind: 'run',
      scheduledAt: at,
      startedAt: at,
      finishedAt: at + 5,
      durationMs: 5,
      instanceId: 'w\u20671\u2069',
      trigger: 'schedule',
      outcome: 'failed',
      // A terminal that reorders right-to-left text shows "by -all-admin.exe delete ok".
      error: 'by \u202eexe.nimda-lla-eteled\u202c ok \u009b2J\u2028end',
    };
    await redis.lpush(store.keysOf('reports').history, JSON.stringify(entry));
  });

  afterEach(async () => {
    await redis.del(...Object.values(store.keysOf('reports')));
    await redis.quit();
    await store.close();
  });

  it('nestjs-cron-lock history prints the cells in stored order, without those characters', async () => {
    const run = await runCli(['history', 'reports', '--redis', testRedisUrl(), '--prefix', prefix]);

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(UNSHOWN);
    expect(run.stdout).toContain('by  exe.nimda-lla-eteled  ok  2J end');
    expect(run.stdout).toMatch(/ w 1  +schedule /);
  });

  it("status and release print a stored holder's id in stored order, without those characters", async () => {
    const held = await store.acquire({
      name: 'reports',
      token: randomBytes(16).toString('hex'),
      ttl: 600_000,
      instanceId: 'old-\u202e1-dlo\u202c\u009b31m\u2066x\u2069',
    });
    expect(held.acquired).toBe(true);
    const shown = 'old- 1-dlo  31m x ';
    const args = ['--redis', testRedisUrl(), '--prefix', prefix];

    const status = await runCli(['status', ...args]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).not.toMatch(UNSHOWN);
    expect(status.stdout).toMatch(/^reports +held +old- 1-dlo {2}31m x /m);

    const refused = await runCli(['release', 'reports', ...args]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain(`is locked by ${shown}:`);
    expect(refused.stdout).not.toMatch(UNSHOWN);
  });
});
