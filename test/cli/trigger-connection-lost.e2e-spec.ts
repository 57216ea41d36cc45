// `nestjs-cron-lock trigger` while its store goes away. The command waited for the instances'
// replies with timers that keep no process alive: once its connections ended (Redis: the command
// does not reconnect; PostgreSQL: the pool had none left during the outage), nothing was left to
// wait on, and Node ended the command with exit code 13 and no output at all.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { CronLockModule, LockedCron, type LockContext } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type { TriggerJson } from '../../lib/cli/trigger.command.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres-server.js';
import { uniquePrefix, waitFor } from '../support/redis.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { untilAborted } from '../support/run-log.js';
import { runCli } from './cli-process.js';

let started = 0;

@Injectable()
class LongReport {
  /** Runs until its lock is lost (Redis is stopped meanwhile) or 20 s passed. */
  @LockedCron('0 0 1 1 *', { name: 'cli-lost-long', ttl: '2s' })
  async report(ctx: LockContext): Promise<void> {
    started += 1;
    await untilAborted(ctx, 20_000);
  }
}

/** Lets the run of {@link GatedReport} end. */
let openGate: () => void = () => undefined;

@Injectable()
class GatedReport {
  /** Runs until the test opens the gate. */
  @LockedCron('0 0 1 1 *', { name: 'cli-lost-gated', ttl: '20s' })
  async report(): Promise<void> {
    started += 1;
    await new Promise<void>((resolve) => (openGate = resolve));
  }
}

describe('nestjs-cron-lock trigger when Redis goes away', () => {
  let redis: RedisServerHandle | undefined;
  let module: TestingModule | undefined;
  let listener: Redis | undefined;

  afterEach(async () => {
    listener?.disconnect();
    await module?.close();
    await redis?.stop();
    listener = module = redis = undefined;
    started = 0;
  });

  /** Messages of the trigger channel of `prefix`, heard by a client of the test's own. */
  async function listen(url: string, prefix: string): Promise<string[]> {
    const heard: string[] = [];
    listener = new Redis(url, { retryStrategy: () => null });
    listener.on('error', () => undefined);
    listener.on('message', (_channel: string, message: string) => heard.push(message));
    await listener.subscribe(`${prefix}:triggers`);
    return heard;
  }

  it('--wait prints that the run started and exits 1 saying the outcome is unknown, not silently with 13', async () => {
    redis = await startRedisServer();
    const prefix = uniquePrefix('cli-lost');
    module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ redis: redis.url, keyPrefix: prefix, logger: false }),
      ],
      providers: [LongReport],
    }).compile();
    await module.init();
    const heard = await listen(redis.url, prefix);

    const cli = runCli([
      'trigger',
      'cli-lost-long',
      '--redis',
      redis.url,
      '--prefix',
      prefix,
      '--yes',
      '--wait',
      '--json',
    ]);
    // The `started` reply reached every subscriber of the channel, the command's among them.
    await waitFor(() => heard.some((message) => message.includes('"status":"started"')), {
      timeout: 30_000,
      message: 'the started reply',
    });
    await redis.stop();
    const run = await cli;

    expect(started).toBe(1);
    expect(run.code).toBe(1);
    const json = JSON.parse(run.stdout) as TriggerJson;
    expect(json).toMatchObject({ job: 'cli-lost-long', ran: true, outcome: 'unknown' });
    expect(run.stderr).toMatch(/lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+/);
    expect(run.stderr).toContain('outcome is unknown');
  });

  it('without --wait, exits 1 saying so when Redis goes away before an instance took the request', async () => {
    redis = await startRedisServer();
    const prefix = uniquePrefix('cli-lost');
    // A second receiver of the channel that never answers: the command waits for a taker.
    const heard = await listen(redis.url, prefix);

    const cli = runCli([
      'trigger',
      'cli-lost-none',
      '--redis',
      redis.url,
      '--prefix',
      prefix,
      '--yes',
    ]);
    await waitFor(() => heard.some((message) => message.includes('"kind":"request"')), {
      timeout: 30_000,
      message: 'the request',
    });
    await redis.stop();
    const run = await cli;

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+/);
    expect(run.stderr).toContain('before any instance answered');
  });
});

describe('nestjs-cron-lock trigger when PostgreSQL restarts', () => {
  let server: PostgresServerHandle | undefined;
  let module: TestingModule | undefined;
  const stores: PostgresLockStore[] = [];

  afterEach(async () => {
    openGate();
    await module?.close();
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await server?.stop();
    module = server = undefined;
    started = 0;
  });

  /** Backends listening on a channel (the app, the test and, once it listens, the command). */
  async function listeners(url: string): Promise<number> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ count: string }>(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'",
      );
      return Number(rows[0]!.count);
    } finally {
      await client.end();
    }
  }

  it('--wait waits through the outage and prints how the run ended, not exit 13 mid-wait', async () => {
    server = await startPostgresServer();
    const url = server.url;
    const table = 'cli_lost_locks';
    const appStore = new PostgresLockStore(url, { table });
    const testStore = new PostgresLockStore(url, { table });
    stores.push(appStore, testStore);
    module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ store: appStore, logger: false }),
      ],
      providers: [GatedReport],
    }).compile();
    await module.init();
    const heard: string[] = [];
    await testStore.triggers.subscribe((message) => heard.push(JSON.stringify(message)));

    const cli = runCli(
      ['trigger', 'cli-lost-gated', '--table', table, '--yes', '--wait', '--json'],
      {
        env: { DATABASE_URL: url },
      },
    );
    await waitFor(() => heard.some((message) => message.includes('"status":"started"')), {
      timeout: 30_000,
      message: 'the started reply',
    });
    await server.halt();
    await server.start();
    // The app, the test and the command listen again (each re-listens by itself), and the run ends.
    await waitFor(async () => (await listeners(url)) >= 3, {
      timeout: 20_000,
      message: 'three listening connections',
    });
    openGate();
    const run = await cli;

    expect(started).toBe(1);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout) as TriggerJson;
    expect(json).toMatchObject({ job: 'cli-lost-gated', ran: true, outcome: 'completed' });
  });
});
