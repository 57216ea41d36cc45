// Testing an app's own AppModule — registered with forRootAsync reading REDIS_URL from
// ConfigService, as the README shows — on the in-memory store, without Redis and without editing
// the module.
import { Injectable, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CRON_LOCK_MODULE_OPTIONS,
  CronLockModule,
  LockedCron,
  MemoryLockStore,
  type LockContext,
} from 'nestjs-cron-lock';
import { overrideCronLockModule, runLockedJob } from 'nestjs-cron-lock/testing';

@Injectable()
class ReportsService {
  readonly fences: number[] = [];

  @LockedCron('0 * * * *', '5m')
  async hourly(ctx: LockContext): Promise<number> {
    this.fences.push(ctx.fencingToken);
    return ctx.fencingToken;
  }
}

@Module({
  imports: [
    ConfigModule.forRoot(),
    ScheduleModule.forRoot(),
    CronLockModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({ redis: config.getOrThrow<string>('REDIS_URL') }),
    }),
  ],
  providers: [ReportsService],
})
class AppModule {}

const scheduledAt = new Date('2025-01-01T10:00:00Z');

describe("testing the app's own AppModule on the in-memory store", () => {
  let moduleRef: TestingModule | undefined;

  beforeAll(() => {
    delete process.env.REDIS_URL;
  });

  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  it('fails without an override, since the options factory needs REDIS_URL', async () => {
    await expect(Test.createTestingModule({ imports: [AppModule] }).compile()).rejects.toThrow(
      /REDIS_URL/,
    );
  });

  it('runs each occurrence once with overrideCronLockModule()', async () => {
    const store = new MemoryLockStore();
    moduleRef = await overrideCronLockModule(Test.createTestingModule({ imports: [AppModule] }), {
      store,
    }).compile();
    await moduleRef.init();

    const first = await runLockedJob(moduleRef, 'ReportsService.hourly', { scheduledAt });
    expect(first).toMatchObject({ ran: true, value: 1 });
    const again = await runLockedJob(moduleRef, 'ReportsService.hourly', { scheduledAt });
    expect(again).toEqual({ ran: false, reason: 'tick-done' });
    expect(moduleRef.get(ReportsService).fences).toEqual([1]);
    expect(await store.inspect('ReportsService.hourly')).toMatchObject({
      holder: null,
      fencingToken: 1,
    });
  });

  it('runs on the store given to .overrideProvider(CRON_LOCK_MODULE_OPTIONS)', async () => {
    const store = new MemoryLockStore();
    moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideProvider(CRON_LOCK_MODULE_OPTIONS)
      .useValue({ store, logger: false })
      .compile();
    await moduleRef.init();

    expect(await runLockedJob(moduleRef, 'ReportsService.hourly', { scheduledAt })).toMatchObject({
      ran: true,
      value: 1,
    });
    expect(await store.inspect('ReportsService.hourly')).toMatchObject({ fencingToken: 1 });
  });
});
