// CronLockService.run() without an occurrence, on a name no job uses, takes the store's lean path
// (on Redis: SET NX PX, compare-and-delete); `record: true`, a `scheduledAt` or a job's name keep
// the full path and its record. Behaviour is checked in Redis itself, never by timing.
import { Injectable, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  LockedCron,
  type RunOptions,
} from 'nestjs-cron-lock';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';

/** Never fires during a test. */
const YEARLY = '0 0 1 1 *';

@Injectable()
class ReportJobs {
  @LockedCron(YEARLY, { name: 'reports', ttl: '1m' })
  async reports(): Promise<void> {}
}

let admin: Redis;
const apps: TestingModule[] = [];

beforeAll(() => {
  admin = newRedisClient();
});

afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
});

afterAll(async () => {
  await admin.quit();
});

async function startApp(keyPrefix: string): Promise<CronLockService> {
  @Module({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({ redis: testRedisUrl(), keyPrefix, logger: false }),
    ],
    providers: [ReportJobs],
  })
  class AppModule {}
  const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
  await app.init();
  apps.push(app);
  return app.get(CronLockService);
}

describe('CronLockService.run() on a plain lock', () => {
  it('keeps only an expiring lock key while it runs, and leaves nothing behind', async () => {
    const prefix = uniquePrefix('plain');
    const locks = await startApp(prefix);
    const result = await locks.run('import', { ttl: '1m' }, async (ctx) => ({
      fencingToken: ctx.fencingToken,
      keys: (await admin.keys(`${prefix}:{import}:*`)).sort(),
      pttl: await admin.pttl(`${prefix}:{import}:lock`),
    }));
    expect(result.ran).toBe(true);
    if (!result.ran) return;
    expect(result.value.keys).toEqual([`${prefix}:{import}:lock`]);
    expect(result.value.pttl).toBeGreaterThan(0);
    expect(result.value.pttl).toBeLessThanOrEqual(60_000);
    expect(result.value.fencingToken).toBeGreaterThan(0);
    expect(await admin.keys(`${prefix}:{import}:*`)).toEqual([]);
  });

  it('hands out a fencing token greater than every earlier one of that name', async () => {
    const prefix = uniquePrefix('plain-fence');
    const locks = await startApp(prefix);
    const tokens: number[] = [];
    for (const options of [undefined, undefined, { record: true }, undefined]) {
      const result = await locks.run('import', options, (ctx) => ctx.fencingToken);
      if (!result.ran) throw new Error(`run refused: ${result.reason}`);
      tokens.push(result.value);
    }
    expect(tokens[0]).toBeGreaterThan(0);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
    // The record: true run wrote the state hash and its history; the plain ones nothing lasting.
    expect((await admin.keys(`${prefix}:{import}:*`)).sort()).toEqual([
      `${prefix}:{import}:history`,
      `${prefix}:{import}:state`,
    ]);
  });

  it('excludes other instances, plain or recording, while it runs', async () => {
    const prefix = uniquePrefix('plain-excl');
    const [a, b] = [await startApp(prefix), await startApp(prefix)];
    const result = await a.run('import', undefined, async () => [
      await b.run('import', undefined, () => 'b ran'),
      await b.run('import', { record: true }, () => 'b ran'),
    ]);
    expect(result).toMatchObject({
      ran: true,
      value: [
        { ran: false, reason: 'held' },
        { ran: false, reason: 'held' },
      ],
    });
    expect(await b.run('import', undefined, () => 'b ran')).toMatchObject({
      ran: true,
      value: 'b ran',
    });
  });

  it('releases its lock when the job throws, and throws what the job threw', async () => {
    const prefix = uniquePrefix('plain-fail');
    const locks = await startApp(prefix);
    await expect(
      locks.run('import', undefined, () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    expect(await admin.keys(`${prefix}:{import}:*`)).toEqual([]);
  });

  it('records the holder, a fencing token and the last success with record: true', async () => {
    const prefix = uniquePrefix('plain-record');
    const locks = await startApp(prefix);
    const result = await locks.run('import', { record: true }, async (ctx) => ({
      fencingToken: ctx.fencingToken,
      holder: (await locks.inspect('import')).holder,
    }));
    expect(result).toMatchObject({ ran: true, value: { holder: locks.instanceId } });
    if (result.ran) expect(result.value.fencingToken).toBeGreaterThan(0);
    const state = await locks.inspect('import');
    expect(state.lastOutcome).toBe('completed');
    expect(state.lastSuccessAt).toBeInstanceOf(Date);
  });

  it('keeps the occurrence marker for a run with scheduledAt', async () => {
    const prefix = uniquePrefix('plain-tick');
    const locks = await startApp(prefix);
    const scheduledAt = Date.now() - 60_000;
    const first = await locks.run('import', { scheduledAt }, (ctx) => ctx.fencingToken);
    expect(first).toMatchObject({ ran: true });
    if (first.ran) expect(first.value).toBeGreaterThan(0);
    expect(await locks.run('import', { scheduledAt }, () => 'again')).toEqual({
      ran: false,
      reason: 'tick-done',
    });
  });

  it("records a run on a @LockedCron job's name, as the job's own runs do", async () => {
    const prefix = uniquePrefix('plain-job');
    const locks = await startApp(prefix);
    const result = await locks.run('reports', undefined, async (ctx) => ({
      fencingToken: ctx.fencingToken,
      holder: (await locks.inspect('reports')).holder,
    }));
    expect(result).toMatchObject({ ran: true, value: { holder: locks.instanceId } });
    if (result.ran) expect(result.value.fencingToken).toBeGreaterThan(0);
    expect((await locks.inspect('reports')).lastOutcome).toBe('completed');
  });

  it.each([['yes'], [1], [null]])(
    'rejects record: %o, naming the call and the fix',
    async (value) => {
      const locks = await startApp(uniquePrefix('plain-opt'));
      let ran = false;
      const error = await locks
        .run('import', { record: value } as unknown as RunOptions, () => {
          ran = true;
        })
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(ran).toBe(false);
      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toContain('CronLockService.run("import")');
      expect((error as Error).message).toContain('record');
    },
  );
});
