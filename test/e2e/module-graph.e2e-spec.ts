// Where CronLockModule sits in an app's module graph. One registration locks every job of the
// app, wherever the job is provided; a second registration (a feature module calling forRoot
// again, or forRoot beside forRootAsync) would bring a store and options of its own that only
// one of the two can use, so bootstrap refuses it and names the modules that import each one.
import { Injectable, Module, type ModuleMetadata } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type LockContext,
} from 'nestjs-cron-lock';
import { waitFor } from '../support/redis.js';

/** Never fires during a test: the job runs when the test fires it. */
const YEARLY = '0 0 1 1 *';

const booted: TestingModule[] = [];

afterEach(async () => {
  await Promise.all(booted.splice(0).map((ref) => ref.close()));
});

/** Boots `metadata` and returns what `compile()` or `init()` rejected with. */
async function bootstrapError(metadata: ModuleMetadata): Promise<Error> {
  let ref: TestingModule | undefined;
  try {
    ref = await Test.createTestingModule(metadata).compile();
    await ref.init();
  } catch (error) {
    await ref?.close().catch(() => undefined);
    return error as Error;
  }
  await ref.close();
  throw new Error('expected the app to fail at bootstrap, but it booted');
}

/** A job class of its own per test: whether a method was bound is remembered per method. */
function reportJobs() {
  const ran: string[] = [];
  @Injectable()
  class ReportJobs {
    @LockedCron(YEARLY, { name: 'module-graph-report' })
    async report(ctx: LockContext): Promise<void> {
      ran.push(ctx.instanceId);
    }
  }
  return { ReportJobs, ran };
}

describe('CronLockModule in the module graph', () => {
  it('rejects a second forRoot in a feature module, naming both importing modules', async () => {
    const { ReportJobs } = reportJobs();
    // The feature's copy-pasted test setup: left alone, its in-process store silently locked
    // the app's jobs, so every instance of the fleet ran every occurrence.
    @Module({
      imports: [CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false })],
      providers: [ReportJobs],
    })
    class ReportsModule {}
    @Module({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false, instanceId: 'app' }),
        ReportsModule,
      ],
    })
    class AppModule {}

    const error = await bootstrapError({ imports: [AppModule] });
    expect(error).toBeInstanceOf(CronLockConfigError);
    expect(error.message).toContain('CronLockModule is registered 2 times in this app');
    expect(error.message).toContain('AppModule');
    expect(error.message).toContain('ReportsModule');
    expect(error.message).toContain('Fix:');
  });

  it('rejects forRoot and forRootAsync in one app', async () => {
    const { ReportJobs } = reportJobs();
    @Module({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false }),
        CronLockModule.forRootAsync({
          useFactory: () => ({ store: new MemoryLockStore(), logger: false }),
        }),
      ],
      providers: [ReportJobs],
    })
    class AppModule {}

    const error = await bootstrapError({ imports: [AppModule] });
    expect(error).toBeInstanceOf(CronLockConfigError);
    expect(error.message).toContain('CronLockModule is registered 2 times in this app');
    expect(error.message).toContain('AppModule');
    expect(error.message).toContain('Fix:');
  });

  it('boots one registration imported by two modules, and locks the job under it once', async () => {
    const { ReportJobs, ran } = reportJobs();
    // One dynamic module object imported twice is one module to Nest: nothing to refuse.
    const lockModule = CronLockModule.forRoot({
      store: new MemoryLockStore(),
      logger: false,
      instanceId: 'shared',
      isGlobal: false,
    });
    @Module({ imports: [lockModule], providers: [ReportJobs] })
    class ReportsModule {}
    @Module({ imports: [ScheduleModule.forRoot(), lockModule, ReportsModule] })
    class AppModule {}

    const ref = await Test.createTestingModule({ imports: [AppModule] }).compile();
    booted.push(ref);
    await ref.init();
    const registry = ref.get(SchedulerRegistry);
    expect([...registry.getCronJobs().keys()]).toEqual(['module-graph-report']);
    registry.getCronJob('module-graph-report').fireOnTick();
    const service = ref.get(CronLockService, { strict: false });
    await waitFor(() => ran.length > 0, { message: 'the fired tick to run' });
    expect(ran).toEqual(['shared']);
    expect(service.instanceId).toBe('shared');
  });
});
