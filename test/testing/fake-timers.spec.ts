// A user's unit test on fake timers (Vitest's `vi.useFakeTimers()`, or Jest's modern timers,
// whose defaults also fake `queueMicrotask`), with CronLockTestingModule's in-memory store: the
// store answers without a clock, so nothing the library does may wait for a fake timer that the
// test never advances.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CronLockService, LockedCron, type LockContext } from 'nestjs-cron-lock';
import { CronLockTestingModule, runLockedJob } from 'nestjs-cron-lock/testing';

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

/** A job whose first run waits for the test, so that the next occurrence queues behind it. */
@Injectable()
class QueuedJobs {
  readonly seen: string[] = [];
  private readonly gate = deferred();
  private readonly first = deferred();
  private readonly queued = deferred();
  readonly started = this.first.promise;
  readonly queuedRan = this.queued.promise;
  readonly release = this.gate.resolve;

  @LockedCron('*/15 * * * *', { name: 'queued', overlap: 'queue' })
  async run(ctx: LockContext): Promise<void> {
    this.seen.push(ctx.scheduledAt.toISOString());
    if (this.seen.length === 1) {
      this.first.resolve();
      await this.gate.promise;
    } else {
      this.queued.resolve();
    }
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** A job that works longer than its ttl (30 s, the default) on the fake clock. */
@Injectable()
class LongJobs {
  readonly aborted: unknown[] = [];
  private readonly done = deferred();
  readonly finished = this.done.promise;

  @LockedCron('0 */15 * * * *', { name: 'long' })
  async run(ctx: LockContext): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 45_000));
    if (ctx.signal.aborted) {
      this.aborted.push(ctx.signal.reason);
    }
    this.done.resolve();
  }
}

/** An every-minute job that runs the occurrences no instance ran, oldest first. */
@Injectable()
class CatchUpJobs {
  readonly seen: string[] = [];

  @LockedCron('0 * * * * *', { name: 'minutely', catchUp: 'all' })
  run(ctx: LockContext): void {
    this.seen.push(`${ctx.trigger} ${ctx.scheduledAt.toISOString()}`);
  }
}

/** A job every 10 s that keeps its lock 5 s after each start. */
@Injectable()
class HeldJobs {
  calls = 0;

  @LockedCron('*/10 * * * * *', { name: 'held', minHold: '5s' })
  run(): void {
    this.calls += 1;
  }
}

const open: TestingModule[] = [];

async function boot(): Promise<TestingModule> {
  const ref = await Test.createTestingModule({
    imports: [CronLockTestingModule.forRoot()],
    providers: [SyncJobs, QueuedJobs],
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

describe("under Jest's default fake timers (queueMicrotask faked too)", () => {
  // Jest is no dependency of this project: its modern timers' defaults are reproduced with
  // Vitest's (the same @sinonjs/fake-timers underneath). nextTick cannot be faked in Vitest's
  // forks pool.
  const jestDefaults = {
    now: NOW,
    toFake: [
      'setTimeout',
      'clearTimeout',
      'setInterval',
      'clearInterval',
      'setImmediate',
      'clearImmediate',
      'Date',
      'performance',
      'hrtime',
      'queueMicrotask',
    ] as ('setTimeout' | 'Date' | 'queueMicrotask')[],
  };

  it('reports the occurrences missed between two runs: the event and the history', async () => {
    vi.useFakeTimers(jestDefaults);
    const ref = await boot();
    const missed: Date[] = [];
    ref.get(CronLockService).on('missed', (event) => missed.push(event.scheduledAt));

    await runLockedJob(ref, 'sync', { scheduledAt: new Date('2025-06-01T09:00:00.000Z') });
    const later = await runLockedJob(ref, 'sync', {
      scheduledAt: new Date('2025-06-01T10:00:00.000Z'),
    });

    expect(later.ran).toBe(true);
    const expected = [
      '2025-06-01T09:15:00.000Z',
      '2025-06-01T09:30:00.000Z',
      '2025-06-01T09:45:00.000Z',
    ];
    expect(missed.map((at) => at.toISOString())).toEqual(expected);
    const history = await ref.get(CronLockService).history('sync');
    expect(
      history
        .filter((entry) => entry.kind === 'missed')
        .map((entry) => entry.scheduledAt?.toISOString()),
    ).toEqual([...expected].reverse());
  });

  it("runs an occurrence queued behind a run (overlap: 'queue') at that run's release", async () => {
    vi.useFakeTimers(jestDefaults);
    const ref = await boot();
    const jobs = ref.get(QueuedJobs);

    const first = runLockedJob(ref, 'queued', {
      scheduledAt: new Date('2025-06-01T09:45:00.000Z'),
    });
    await within(jobs.started, 'the first run');
    const second = await runLockedJob(ref, 'queued', {
      scheduledAt: new Date('2025-06-01T10:00:00.000Z'),
    });
    expect(second).toEqual({ ran: false, reason: 'queued', retryIn: expect.any(Number) });
    jobs.release();
    await first;

    await within(jobs.queuedRan, 'the queued occurrence');
    expect(jobs.seen).toEqual(['2025-06-01T09:45:00.000Z', '2025-06-01T10:00:00.000Z']);
  });
});

describe('a run longer than its ttl under a synchronous advance, on the testing module', () => {
  it('keeps its lock: renewed in each timer callback, never declared lost', async () => {
    vi.useFakeTimers({ now: NOW });
    const ref = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), CronLockTestingModule.forRoot()],
      providers: [LongJobs],
    }).compile();
    open.push(ref);
    await ref.init();
    const locks = ref.get(CronLockService);
    const lost: string[] = [];
    locks.on('lost', (event) => lost.push(event.reason));

    // The tick at 10:15 starts the run; it ends 45 s later, all within this one call, as a
    // @Cron test advances its clock.
    vi.advanceTimersByTime(10 * 60_000 + 46_000);
    const jobs = ref.get(LongJobs);
    await within(jobs.finished, 'the run');
    await vi.advanceTimersByTimeAsync(0);

    expect(lost).toEqual([]);
    expect(jobs.aborted).toEqual([]);
    const [last] = await locks.history('long', { limit: 1 });
    expect(last).toMatchObject({ kind: 'run', outcome: 'completed' });
  });
});

describe("catchUp: 'all' when the clock jumps forward while the app runs", () => {
  it('runs the occurrences skipped by the jump before the next tick, instead of only reporting them', async () => {
    // Time moved with setSystemTime, as a test simulates an app that was frozen (a suspended VM,
    // a laptop asleep) or whose clock stepped: the scheduler fires no tick for the skipped minutes.
    vi.useFakeTimers({ now: new Date('2025-06-01T10:00:30.000Z') });
    const ref = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), CronLockTestingModule.forRoot()],
      providers: [CatchUpJobs],
    }).compile();
    open.push(ref);
    await ref.init();
    const missed: string[] = [];
    ref.get(CronLockService).on('missed', (event) => missed.push(event.scheduledAt.toISOString()));

    await vi.advanceTimersByTimeAsync(60_000);
    vi.setSystemTime(Date.now() + 5 * 60_000);
    await vi.advanceTimersByTimeAsync(60_000);

    expect(missed).toEqual([]);
    expect(ref.get(CatchUpJobs).seen).toEqual([
      'schedule 2025-06-01T10:01:00.000Z',
      'catch-up 2025-06-01T10:02:00.000Z',
      'catch-up 2025-06-01T10:03:00.000Z',
      'catch-up 2025-06-01T10:04:00.000Z',
      'catch-up 2025-06-01T10:05:00.000Z',
      'catch-up 2025-06-01T10:06:00.000Z',
      'schedule 2025-06-01T10:07:00.000Z',
    ]);
  });
});

describe('minHold under fake timers that leave performance.now() running', () => {
  it("frees the lock when the hold is over on the test's clock: every tick runs", async () => {
    // The timer functions and Date only, as older Vitest versions fake by default (Jest's legacy
    // timers leave performance.now() running too).
    vi.useFakeTimers({
      now: new Date('2025-06-01T10:00:05.000Z'),
      toFake: [
        'setTimeout',
        'clearTimeout',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'Date',
      ],
    });
    const ref = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), CronLockTestingModule.forRoot()],
      providers: [HeldJobs],
    }).compile();
    open.push(ref);
    await ref.init();
    const skipped: string[] = [];
    ref.get(CronLockService).on('skipped', (event) => skipped.push(event.reason));

    await vi.advanceTimersByTimeAsync(30_000);

    expect(skipped).toEqual([]);
    expect(ref.get(HeldJobs).calls).toBe(3);
  });
});
