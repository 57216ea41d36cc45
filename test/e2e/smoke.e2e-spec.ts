import { Injectable, Module } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { CronLockModule, LockedCron, MemoryLockStore, RedisLockStore, type LockContext } from 'nestjs-cron-lock';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

const runs: Array<{ app: number; at: number; fence: number }> = [];

@Injectable()
class Jobs {
  constructor() {}
  app = 0;
  @LockedCron('* * * * * *', { ttl: '5s', name: 'smoke-every-second' })
  async tick(ctx: LockContext) {
    runs.push({ app: this.app, at: ctx.scheduledAt.getTime(), fence: ctx.fencingToken });
  }
}

async function boot(app: number, store: object) {
  @Module({ imports: [ScheduleModule.forRoot(), CronLockModule.forRoot(store)], providers: [Jobs] })
  class AppModule {}
  const ref = await Test.createTestingModule({ imports: [AppModule] }).compile();
  ref.get(Jobs).app = app;
  await ref.init();
  return ref;
}

describe('smoke', () => {
  it('runs once per occurrence across three apps (memory)', async () => {
    runs.length = 0;
    const store = new MemoryLockStore();
    const apps = await Promise.all([1, 2, 3].map((n) => boot(n, { store, logger: false })));
    expect(apps[0].get(SchedulerRegistry).getCronJob('smoke-every-second')).toBeDefined();
    await waitFor(() => new Set(runs.map((r) => r.at)).size >= 3, { timeout: 10_000 });
    await Promise.all(apps.map((a) => a.close()));
    const per = new Map<number, number>();
    for (const r of runs) per.set(r.at, (per.get(r.at) ?? 0) + 1);
    console.log(runs);
    expect([...per.values()].every((c) => c === 1)).toBe(true);
  });
  it('runs once per occurrence across three apps (redis)', async () => {
    runs.length = 0;
    const keyPrefix = uniquePrefix('smoke');
    const apps = await Promise.all([1, 2, 3].map((n) => boot(n, { redis: testRedisUrl(), keyPrefix })));
    await waitFor(() => new Set(runs.map((r) => r.at)).size >= 3, { timeout: 10_000 });
    await Promise.all(apps.map((a) => a.close()));
    const per = new Map<number, number>();
    for (const r of runs) per.set(r.at, (per.get(r.at) ?? 0) + 1);
    console.log(runs);
    expect([...per.values()].every((c) => c === 1)).toBe(true);
  });
});
