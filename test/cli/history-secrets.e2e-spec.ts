// A history entry whose error text quotes a password or a whole owner token, as an older version
// or a custom store may have kept it: CronLockService.history() and `nestjs-cron-lock history`
// show it redacted, as the dashboard does and as pause notes are.
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService, RedisLockStore } from 'nestjs-cron-lock';
import type { HistoryJson } from '../../lib/cli/history.command.js';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';

const TOKEN = '0123456789abcdef0123456789abcdef';
const IN_USER_INFO = `redis://ops:hunter2@h/0 ${TOKEN}`;
const IN_QUERY = 'redis://h/0?password=hunter2';

describe('history entries whose stored error quotes a secret', () => {
  let prefix: string;
  let store: RedisLockStore;
  let redis: Redis;

  beforeEach(async () => {
    prefix = uniquePrefix('history-secrets');
    store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    redis = newRedisClient();
    const at = Date.now() - 60_000;
    // Written as stored, unredacted: the store's own writes redact, an older version's did not.
    for (const error of [IN_QUERY, IN_USER_INFO]) {
      const entry = { kind: 'run', scheduledAt: at, outcome: 'failed', error };
      await redis.lpush(store.keysOf('reports').history, JSON.stringify(entry));
    }
  });

  afterEach(async () => {
    await redis.del(store.keysOf('reports').history);
    await redis.quit();
    await store.close();
  });

  it('CronLockService.history() answers the error redacted', async () => {
    const moduleRef: TestingModule = await Test.createTestingModule({
      imports: [
        CronLockModule.forRoot({ redis: testRedisUrl(), keyPrefix: prefix, logger: false }),
      ],
    }).compile();
    await moduleRef.init();
    try {
      const entries = await moduleRef.get(CronLockService).history('reports');
      expect(entries.map((entry) => entry.error)).toEqual([
        'redis://ops:***@h/0 012345…',
        'redis://h/0?password=***',
      ]);
    } finally {
      await moduleRef.close();
    }
  });

  it('nestjs-cron-lock history prints it redacted, as a table and as --json', async () => {
    const args = ['history', 'reports', '--redis', testRedisUrl(), '--prefix', prefix];

    const table = await runCli(args);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain('redis://ops:***@h/0 012345…');
    expect(table.stdout).toContain('redis://h/0?password=***');
    expect(table.stdout).not.toContain('hunter2');
    expect(table.stdout).not.toContain(TOKEN);

    const json = await runCli([...args, '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).not.toContain('hunter2');
    expect(json.stdout).not.toContain(TOKEN);
    const { entries } = JSON.parse(json.stdout) as HistoryJson;
    expect(entries.map((entry) => entry.error)).toEqual([
      'redis://ops:***@h/0 012345…',
      'redis://h/0?password=***',
    ]);
  });
});
