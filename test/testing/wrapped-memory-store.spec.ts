// A user's store built on MemoryLockStore for a test: a subclass that overrides acquire() or
// renew() (to fail it, or to count it), or a Proxy that wraps every method (tracing, latency).
// A tick and the renewer must go through what the user wrapped, as they do for any other store.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockService,
  LockedCron,
  LockStoreError,
  type AcquireRequest,
  type AcquireResult,
  MemoryLockStore,
  type LockContext,
  type LockStore,
  type RenewRequest,
  type RenewResult,
} from 'nestjs-cron-lock';
import { CronLockTestingModule } from 'nestjs-cron-lock/testing';

/** A store whose renewals fail, as a Redis that went away during a run. */
class RenewalsFail extends MemoryLockStore {
  renewals = 0;

  override async renew(_request: RenewRequest): Promise<RenewResult> {
    this.renewals++;
    throw new LockStoreError('Error: connect ECONNREFUSED');
  }
}

/** A store whose acquisitions fail, as a Redis that went away. */
class AcquisitionsFail extends MemoryLockStore {
  acquisitions = 0;

  override async acquire(_request: AcquireRequest): Promise<AcquireResult> {
    this.acquisitions++;
    throw new LockStoreError('Error: connect ECONNREFUSED');
  }
}

@Injectable()
class ReportJobs {
  runs = 0;

  @LockedCron('0 0 * * * *', { name: 'hourly-report' })
  report(): void {
    this.runs++;
  }
}

/** Every method of `store` answered asynchronously, as a tracing wrapper does. */
function traced(store: MemoryLockStore, calls: string[]): LockStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...args: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Resolves once `done()` is true, or after `ms` of polling: the assertions tell which. */
async function until(done: () => boolean, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const open: TestingModule[] = [];

async function serviceOn(store: LockStore): Promise<CronLockService> {
  const ref = await Test.createTestingModule({
    imports: [CronLockTestingModule.forRoot({ store })],
  }).compile();
  open.push(ref);
  await ref.init();
  return ref.get(CronLockService);
}

/** An app with `ReportJobs` on `store`, ticked by calling the locked method as the scheduler does. */
async function jobsOn(store: LockStore): Promise<{ jobs: ReportJobs; locks: CronLockService }> {
  const ref = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), CronLockTestingModule.forRoot({ store })],
    providers: [ReportJobs],
  }).compile();
  open.push(ref);
  await ref.init();
  return { jobs: ref.get(ReportJobs), locks: ref.get(CronLockService) };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((ref) => ref.close()));
});

describe('a store wrapping MemoryLockStore, under a run longer than a third of its ttl', () => {
  it("calls the subclass's renew(): its failure is reported and the run is told its lock is lost", async () => {
    const store = new RenewalsFail();
    const locks = await serviceOn(store);
    const errors: string[] = [];
    const lost: string[] = [];
    locks.on('store-error', (event) => errors.push(event.operation));
    locks.on('lost', (event) => lost.push(event.reason));

    const result = await locks.run('report', { ttl: '300ms' }, async (ctx: LockContext) => {
      await until(() => ctx.signal.aborted);
    });

    expect(result).toMatchObject({ ran: true });
    expect(store.renewals).toBeGreaterThan(0);
    expect(errors).toContain('renew');
    expect(lost).toEqual(['unconfirmed']);
  });

  it('keeps the lock through a Proxy that answers every method asynchronously', async () => {
    const calls: string[] = [];
    const locks = await serviceOn(traced(new MemoryLockStore(), calls));
    const renewed: number[] = [];
    const lost: unknown[] = [];
    locks.on('renewed', (event) => renewed.push(event.ttl));
    locks.on('lost', (event) => lost.push(event.reason));

    const result = await locks.run('report', { ttl: '300ms' }, async (ctx: LockContext) => {
      await until(() => renewed.length >= 3 || ctx.signal.aborted);
      return ctx.signal.aborted;
    });

    expect(lost).toEqual([]);
    expect(result).toMatchObject({ ran: true, value: false });
    expect(renewed.length).toBeGreaterThanOrEqual(3);
  });
});

describe('a store wrapping MemoryLockStore, under a scheduler tick', () => {
  it("calls the subclass's acquire(): its failure is reported and the tick is skipped", async () => {
    const store = new AcquisitionsFail();
    const { jobs, locks } = await jobsOn(store);
    const errors: string[] = [];
    locks.on('store-error', (event) => errors.push(event.operation));

    await jobs.report();

    expect(store.acquisitions).toBe(1);
    expect(errors).toEqual(['acquire']);
    expect(jobs.runs).toBe(0);
  });

  it('runs the tick through a Proxy that answers every method asynchronously', async () => {
    const calls: string[] = [];
    const { jobs, locks } = await jobsOn(traced(new MemoryLockStore(), calls));
    const errors: string[] = [];
    locks.on('store-error', (event) => errors.push(event.operation));

    await jobs.report();

    expect(errors).toEqual([]);
    expect(jobs.runs).toBe(1);
    expect(calls).toContain('acquire');
  });
});
