// A history entry whose error text quotes a password or a whole owner token, as an older version
// or a custom store may have kept it: CronLockService.history() and `nestjs-cron-lock history`
// show it redacted, as the dashboard does and as pause notes are. So is an instance id that is a
// connection string, as a lock's holder, a history entry's instance or a trigger's reply: an
// instance of an older version took one as its instanceId, and its entries stay for historySize
// runs.
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService, RedisLockStore } from 'nestjs-cron-lock';
import type { HistoryJson } from '../../lib/cli/history.command.js';
import type { StatusJson } from '../../lib/cli/status.command.js';
import type { TriggerJson } from '../../lib/cli/trigger.command.js';
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

describe('an instance id read from the store that is a connection string with a password', () => {
  const ID = 'redis://u:s3cret@h:6379';
  const SHOWN = 'redis://u:***@h:6379';
  let prefix: string;
  let store: RedisLockStore;
  let redis: Redis;

  beforeEach(async () => {
    prefix = uniquePrefix('instance-id-secrets');
    store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    redis = newRedisClient();
    // What an instance of an older version, started with its instanceId and REDIS_URL swapped,
    // leaves: a lock it holds, and an entry of a run it finished.
    const held = await store.acquire({
      name: 'reports',
      token: randomBytes(16).toString('hex'),
      ttl: 600_000,
      instanceId: ID,
    });
    expect(held.acquired).toBe(true);
    const at = Date.now() - 60_000;
    const entry = {
      kind: 'run',
      scheduledAt: at,
      startedAt: at,
      finishedAt: at + 5,
      durationMs: 5,
      outcome: 'completed',
      instanceId: ID,
    };
    await redis.lpush(store.keysOf('reports').history, JSON.stringify(entry));
  });

  afterEach(async () => {
    await redis.del(...Object.values(store.keysOf('reports')));
    await redis.quit();
    await store.close();
  });

  const redisArgs = (): string[] => ['--redis', testRedisUrl(), '--prefix', prefix];

  function expectNoSecret(run: { stdout: string; stderr: string }): void {
    expect(run.stdout + run.stderr).not.toContain('s3cret');
  }

  it('status and history print it redacted, as a table and as --json', async () => {
    const [status, statusJson, history, historyJson] = await Promise.all([
      runCli(['status', ...redisArgs()]),
      runCli(['status', ...redisArgs(), '--json']),
      runCli(['history', 'reports', ...redisArgs()]),
      runCli(['history', 'reports', ...redisArgs(), '--json']),
    ]);

    for (const run of [status, statusJson, history, historyJson]) {
      expect(run.code, run.stderr).toBe(0);
      expectNoSecret(run);
    }
    expect(status.stdout).toContain(SHOWN);
    expect(history.stdout).toContain(SHOWN);
    const job = (JSON.parse(statusJson.stdout) as StatusJson).jobs.find(
      (state) => state.name === 'reports',
    );
    expect(job).toMatchObject({ held: true, holder: SHOWN });
    const { entries } = JSON.parse(historyJson.stdout) as HistoryJson;
    expect(entries.map((entry) => entry.instanceId)).toEqual([SHOWN]);
  });

  it('release prints it redacted when it refuses, and when it releases', async () => {
    const refused = await runCli(['release', 'reports', ...redisArgs()]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain(`is locked by ${SHOWN}:`);
    expectNoSecret(refused);

    const released = await runCli(['release', 'reports', ...redisArgs(), '--yes']);
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).toContain(`was held by ${SHOWN},`);
    expectNoSecret(released);
  });

  it("trigger prints an instance's reply redacted, as text and as --json", async () => {
    // An instance of an older version answers every request for the job as run and completed.
    const peer = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    const subscription = await peer.triggers.subscribe((message) => {
      if (message.kind === 'request' && message.name === 'reports') {
        void peer.triggers.publish({
          kind: 'reply',
          id: message.id,
          name: message.name,
          instanceId: ID,
          status: 'finished',
          fencingToken: 2,
          outcome: 'completed',
          durationMs: 5,
        });
      }
    });
    try {
      const [text, json] = await Promise.all([
        runCli(['trigger', 'reports', ...redisArgs(), '--yes']),
        runCli(['trigger', 'reports', ...redisArgs(), '--yes', '--json']),
      ]);
      for (const run of [text, json]) {
        expect(run.code, run.stderr).toBe(0);
        expectNoSecret(run);
      }
      expect(text.stdout).toContain(`"reports" started on ${SHOWN} (fence 2)`);
      expect(JSON.parse(json.stdout) as TriggerJson).toMatchObject({
        ran: true,
        instanceId: SHOWN,
      });
    } finally {
      await subscription.close();
      await peer.close();
    }
  });
});
