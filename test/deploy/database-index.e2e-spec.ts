// A Redis URL naming a database the server refuses (`/99` on a server with the default 16
// databases): ioredis' SELECT on connect fails, and it used the connection anyway, on database 0.
// Nothing may then read, write or release the locks of database 0.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  LockedCron,
  LockStoreError,
  RedisLockStore,
  type LockContext,
} from 'nestjs-cron-lock';
import { runCli } from '../cli/cli-process.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

/** The test server's URL with a database it does not have (it keeps the default 16). */
function urlWithDatabase(db: number): string {
  const url = new URL(testRedisUrl());
  url.pathname = `/${db}`;
  return url.toString();
}

@Injectable()
class EverySecond {
  readonly runs: LockContext[] = [];

  @LockedCron('* * * * * *', { name: 'tick' })
  async tick(ctx: LockContext): Promise<void> {
    this.runs.push(ctx);
  }
}

describe('a Redis URL naming a database the server refuses', () => {
  let prefix: string;
  let db0: Redis;
  let db0Store: RedisLockStore;
  const cleanup: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    prefix = uniquePrefix('db-index');
    db0 = newRedisClient();
    // A job of database 0, held: what a command run on database 0 by mistake would show or free.
    db0Store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    const held = await db0Store.acquire({
      name: 'db0-job',
      token: randomBytes(16).toString('hex'),
      ttl: 600_000,
      scheduledAt: Math.floor(Date.now() / 1_000) * 1_000,
      instanceId: 'db0-instance',
    });
    expect(held.acquired).toBe(true);
  });

  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) {
      await undo().catch(() => undefined);
    }
    const keys = await db0.keys(`${prefix}:*`);
    if (keys.length > 0) {
      await db0.del(...keys);
    }
    await db0Store.close();
    await db0.quit();
  });

  it('the command line tool exits 1 naming the database and the fix, showing nothing of database 0', async () => {
    const status = await runCli(['status', '--redis', urlWithDatabase(99), '--prefix', prefix]);
    expect(status.code, status.stdout).toBe(1);
    expect(status.stdout).not.toContain('db0-job');
    expect(status.stderr).toContain('database 99');
    expect(status.stderr).toContain('Fix:');

    const release = await runCli([
      'release',
      'db0-job',
      '--yes',
      '--redis',
      urlWithDatabase(99),
      '--prefix',
      prefix,
    ]);
    expect(release.code, release.stdout).toBe(1);
    expect(release.stderr).toContain('database 99');
    expect(await db0.exists(db0Store.keysOf('db0-job').lock)).toBe(1);
  });

  it('a RedisLockStore refuses every command with a LockStoreError naming the database', async () => {
    const store = new RedisLockStore(urlWithDatabase(99), { keyPrefix: prefix, logger: false });
    cleanup.push(() => store.close());

    await expect(store.listJobs()).rejects.toThrow(LockStoreError);
    await expect(store.inspect('db0-job')).rejects.toThrow(/database 99.*Fix:/);
    const acquire = store.acquire({
      name: 'other',
      token: randomBytes(16).toString('hex'),
      ttl: 5_000,
      instanceId: 'wrong-db',
    });
    await expect(acquire).rejects.toThrow(/database 99/);
    expect(await db0.exists(db0Store.keysOf('other').lock)).toBe(0);
  });

  it('CronLockModule.forRoot({ redis: url }) warns naming the database and runs no job on database 0', async () => {
    const logger = new CapturingLogger();
    const moduleRef: TestingModule = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ redis: urlWithDatabase(99), keyPrefix: prefix, logger }),
      ],
      providers: [EverySecond],
    }).compile();
    cleanup.push(() => moduleRef.close());
    await moduleRef.init();

    const warning = await waitFor(
      () =>
        logger.lines.find((line) => line.level === 'warn' && line.message.includes('database 99')),
      { timeout: 10_000, message: 'a warning naming database 99' },
    );
    expect(warning.message).toContain('Fix:');
    // Bootstrap waited for the store (a command timeout at least) while the job ticked each second.
    expect(moduleRef.get(EverySecond).runs).toHaveLength(0);
    expect(await db0.keys(`${prefix}:{tick}:*`)).toEqual([]);
  });
});
