// A user's unit test on fake timers (Vitest's `vi.useFakeTimers()`, or Jest's modern timers,
// whose defaults also fake `queueMicrotask`), with CronLockTestingModule's in-memory store: the
// store answers without a clock, so nothing the library does may wait for a fake timer that the
// test never advances.
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CronLockService, LockedCron, type LockContext } from 'nestjs-cron-lock';
import { CronLockTestingModule } from 'nestjs-cron-lock/testing';

/** Taken before any test fakes the timers: the bound on a call that would otherwise hang. */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** `promise`, or a rejection naming `what` once `ms` of real time passed without it settling. */
async function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = realSetTimeout(() => reject(new Error(`${what} did not settle in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    realClearTimeout(timer);
  }
}

const NOW = new Date('2025-06-01T10:05:00.000Z');

@Injectable()
class SyncJobs {
  readonly seen: LockContext[] = [];

  @LockedCron('*/15 * * * *', { name: 'sync' })
  async sync(ctx: LockContext): Promise<void> {
    this.seen.push(ctx);
  }
}

const open: TestingModule[] = [];

async function boot(): Promise<TestingModule> {
  const ref = await Test.createTestingModule({
    imports: [CronLockTestingModule.forRoot()],
    providers: [SyncJobs],
  }).compile();
  open.push(ref);
  await ref.init();
  return ref;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(open.splice(0).map((ref) => ref.close()));
});

describe('CronLockService.trigger() under fake timers, on the testing module', () => {
  it('runs the job and answers, with wait, without the test advancing the clock', async () => {
    vi.useFakeTimers({ now: NOW });
    const ref = await boot();

    const result = await within(
      ref.get(CronLockService).trigger('sync', { wait: true }),
      "trigger('sync', { wait: true })",
    );

    expect(result).toMatchObject({ ran: true, name: 'sync', outcome: 'completed' });
    expect(ref.get(SyncJobs).seen.map((ctx) => ctx.trigger)).toEqual(['manual']);
  });

  it('answers without wait once the job started', async () => {
    vi.useFakeTimers({ now: NOW });
    const ref = await boot();

    const result = await within(ref.get(CronLockService).trigger('sync'), "trigger('sync')");

    expect(result).toMatchObject({ ran: true, name: 'sync' });
    expect(ref.get(SyncJobs).seen).toHaveLength(1);
  });
});
