// `nestjs-cron-lock pause --reason` and `status --json` with a note that quotes a connection string
// with its password: printed on other operators' terminals, so shown redacted, as the dashboard
// shows it.
import { afterEach, describe, expect, it } from 'vitest';
import { RedisLockStore } from 'nestjs-cron-lock';
import type { StatusJson } from '../../lib/cli/status.command.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';

const NOTE = 'cache moved to redis://ops:hunter2@cache.internal:6379';
const REDACTED = 'cache moved to redis://ops:***@cache.internal:6379';

describe('nestjs-cron-lock pause and status with a note quoting a password', () => {
  const stores: RedisLockStore[] = [];

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  function storeOn(prefix: string): RedisLockStore {
    const store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    stores.push(store);
    return store;
  }

  it('keeps and prints the note with the password hidden', async () => {
    const prefix = uniquePrefix('cli-pause-note');
    const store = storeOn(prefix);
    await store.registerJob('reports', { cron: '0 * * * *', timeZone: 'UTC' });
    const redis = ['--redis', testRedisUrl(), '--prefix', prefix];

    const paused = await runCli(['pause', 'reports', ...redis, '--reason', NOTE, '--yes']);

    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain(`(reason: ${REDACTED})`);
    expect(paused.stdout + paused.stderr).not.toContain('hunter2');
    expect(await store.inspect('reports')).toMatchObject({ paused: true, pauseReason: REDACTED });
  });

  it("shows a note the store's own pause() kept with the password hidden in status --json", async () => {
    const prefix = uniquePrefix('cli-pause-note');
    const store = storeOn(prefix);
    await store.pause('reports', { reason: NOTE, until: null });

    const status = await runCli([
      'status',
      '--redis',
      testRedisUrl(),
      '--prefix',
      prefix,
      '--json',
    ]);

    expect(status.code).toBe(0);
    expect(status.stdout).not.toContain('hunter2');
    const job = (JSON.parse(status.stdout) as StatusJson).jobs.find(
      (entry) => entry.name === 'reports',
    );
    expect(job).toMatchObject({ paused: true, pauseReason: REDACTED });
  });
});
