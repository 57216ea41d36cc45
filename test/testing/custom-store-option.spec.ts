// `store` of CronLockTestingModule.forRoot() and overrideCronLockModule() as the docs put it, "a
// store of your own": a user's LockStore that is not a MemoryLockStore. This file is type-checked
// with the rest of the tests, so passing such a store must also compile.
import { Injectable, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CRON_LOCK_STORE,
  CronLockModule,
  LockedCron,
  MemoryLockStore,
  type AcquireRequest,
  type AcquireResult,
  type LockContext,
  type LockStore,
  type ReleaseRequest,
  type RenewRequest,
  type RenewResult,
  type StoredLockState,
} from 'nestjs-cron-lock';
import {
  CronLockTestingModule,
  overrideCronLockModule,
  runLockedJob,
  type CronLockTestingOptions,
} from 'nestjs-cron-lock/testing';

// A yearly job, so that the clock (the app's ScheduleModule) adds no run of its own to a test.
const NOON = Date.UTC(2025, 0, 1, 12);

/** A user's own store: not a MemoryLockStore, only the required methods, counting acquisitions. */
class CountingStore implements LockStore {
  readonly acquired: string[] = [];
  private readonly inner = new MemoryLockStore();

  acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.acquired.push(request.name);
    return this.inner.acquire(request);
  }
  renew(request: RenewRequest): Promise<RenewResult> {
    return this.inner.renew(request);
  }
  release(request: ReleaseRequest): Promise<boolean> {
    return this.inner.release(request);
  }
  inspect(name: string): Promise<StoredLockState> {
    return this.inner.inspect(name);
  }
  ping(): Promise<number> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

@Injectable()
class ReportJobs {
  runs = 0;

  @LockedCron('0 12 1 1 *', { name: 'report' })
  report(ctx: LockContext): number {
    this.runs++;
    return ctx.fencingToken;
  }
}

@Module({
  imports: [
    ScheduleModule.forRoot(),
    CronLockModule.forRoot({ redis: 'redis://never-used.invalid:6379' }),
  ],
  providers: [ReportJobs],
})
class AppModule {}

describe('a custom store passed to the testing helpers', () => {
  let moduleRef: TestingModule | undefined;

  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  it('CronLockTestingModule.forRoot({ store }) locks in it, and does not pass it off as a MemoryLockStore', async () => {
    const store = new CountingStore();
    const options: CronLockTestingOptions = { store, instanceId: 'a' };
    moduleRef = await Test.createTestingModule({
      imports: [CronLockTestingModule.forRoot(options)],
      providers: [ReportJobs],
    }).compile();
    await moduleRef.init();

    const result = await runLockedJob(moduleRef, 'report', { scheduledAt: new Date(NOON) });
    expect(result.ran).toBe(true);
    expect(store.acquired).toEqual(['report']);
    expect(moduleRef.get(CRON_LOCK_STORE)).toBe(store);
    // Injected as MemoryLockStore, it would be a store without the class's methods.
    expect(() => moduleRef!.get(MemoryLockStore)).toThrow(/MemoryLockStore/);
  });

  it('CronLockTestingModule.forRoot() still provides its MemoryLockStore, and one passed in', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [CronLockTestingModule.forRoot()],
    }).compile();
    expect(moduleRef.get(MemoryLockStore)).toBe(moduleRef.get(CRON_LOCK_STORE));
    await moduleRef.close();

    const store = new MemoryLockStore();
    moduleRef = await Test.createTestingModule({
      imports: [CronLockTestingModule.forRoot({ store })],
    }).compile();
    expect(moduleRef.get(MemoryLockStore)).toBe(store);
  });

  it("overrideCronLockModule(builder, { store }) runs the app's jobs in it", async () => {
    const store = new CountingStore();
    moduleRef = await overrideCronLockModule(Test.createTestingModule({ imports: [AppModule] }), {
      store,
    }).compile();
    await moduleRef.init();

    const result = await runLockedJob(moduleRef, 'report', { scheduledAt: new Date(NOON) });
    expect(result.ran).toBe(true);
    expect(store.acquired).toEqual(['report']);
    expect(moduleRef.get(ReportJobs).runs).toBe(1);
  });
});
