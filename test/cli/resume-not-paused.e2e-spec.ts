// `nestjs-cron-lock resume <job>` on a job that is not paused (never was, resumed by someone else,
// or its `--until` passed): nothing was resumed, and the command must not say it was.
import { afterEach, describe, expect, it } from 'vitest';
import { RedisLockStore } from 'nestjs-cron-lock';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';

describe('nestjs-cron-lock resume of a job that is not paused', () => {
  const stores: RedisLockStore[] = [];

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  async function jobUnder(prefix: string): Promise<RedisLockStore> {
    const store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    stores.push(store);
    await store.registerJob('reports', { cron: '0 * * * *', timeZone: 'UTC' });
    return store;
  }

  const resume = (prefix: string): ReturnType<typeof runCli> =>
    runCli(['resume', 'reports', '--redis', testRedisUrl(), '--prefix', prefix, '--yes']);

  it('says there was no pause to undo (exit 0), not that it resumed the job', async () => {
    const prefix = uniquePrefix('cli-resume');
    await jobUnder(prefix);

    const run = await resume(prefix);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`"reports" (prefix "${prefix}") was not paused: nothing to resume.\n`);
  });

  it('still says it resumed a job that was paused, and only the first time', async () => {
    const prefix = uniquePrefix('cli-resume');
    const store = await jobUnder(prefix);
    await store.pause('reports', { reason: null, until: null });

    const first = await resume(prefix);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Resumed "reports" /);
    expect(await store.inspect('reports')).toMatchObject({ paused: false });

    const second = await resume(prefix);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('was not paused: nothing to resume');
    expect(second.stdout).not.toContain('Resumed');
  });
});
