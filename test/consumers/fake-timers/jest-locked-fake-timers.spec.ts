import { Injectable } from '@nestjs/common';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { CronLockService, LockedCron, type LockContext } from 'nestjs-cron-lock';
import { CronLockTestingModule, runLockedJob } from 'nestjs-cron-lock/testing';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

@Injectable()
class EverySecond {
  cronCalls = 0;
  lockedCalls = 0;

  @Cron('* * * * * *')
  viaCron(): void {
    this.cronCalls += 1;
  }

  @LockedCron('* * * * * *')
  async viaLock(): Promise<void> {
    this.lockedCalls += 1;
  }
}

/** Works 45 s, longer than its ttl (30 s, the default). */
@Injectable()
class LongJob {
  readonly outcomes: string[] = [];

  @LockedCron('0 */15 * * * *', { name: 'long' })
  async run(ctx: LockContext): Promise<void> {
    await wait(45_000);
    this.outcomes.push(ctx.signal.aborted ? 'aborted' : 'done');
  }
}

@Injectable()
class Minutely {
  readonly seen: string[] = [];

  @LockedCron('0 * * * * *', { name: 'minutely', catchUp: 'all' })
  run(ctx: LockContext): void {
    this.seen.push(ctx.trigger + ' ' + ctx.scheduledAt.toISOString());
  }
}

@Injectable()
class Held {
  cronCalls = 0;
  lockedCalls = 0;

  @Cron('*/10 * * * * *')
  viaCron(): void {
    this.cronCalls += 1;
  }

  @LockedCron('*/10 * * * * *', { name: 'held', minHold: '5s' })
  viaLock(): void {
    this.lockedCalls += 1;
  }
}

/** Every 10 s, each run 15 s: the next occurrence queues behind it. */
@Injectable()
class Queued {
  readonly seen: string[] = [];

  @LockedCron('*/10 * * * * *', { name: 'queued', overlap: 'queue' })
  async run(ctx: LockContext): Promise<void> {
    this.seen.push(ctx.scheduledAt.toISOString());
    await wait(15_000);
  }
}

let moduleRef: TestingModule | undefined;
let legacy = false;

/** Lets the promises of the callbacks a synchronous advance fired settle (no timer involved). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

/** The async advance; legacy timers have none, so there 100 ms steps with promises settled between. */
async function advance(ms: number): Promise<void> {
  if (!legacy) {
    await jest.advanceTimersByTimeAsync(ms);
    return;
  }
  for (let done = 0; done < ms; done += 100) {
    jest.advanceTimersByTime(Math.min(100, ms - done));
    await settle();
  }
}

async function boot(provider: new () => object): Promise<TestingModule> {
  moduleRef = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), CronLockTestingModule.forRoot()],
    providers: [provider],
  }).compile();
  await moduleRef.init();
  return moduleRef;
}

afterEach(async () => {
  const ref = moduleRef;
  moduleRef = undefined;
  if (ref) {
    // close() waits for a run in progress, whose timers are fake: advance past them.
    const closing = ref.close();
    await advance(60_000);
    await closing;
  }
  jest.useRealTimers();
  legacy = false;
});

describe.each([
  ['modern', {}],
  ['legacy', { legacyFakeTimers: true }],
])("a @LockedCron job under Jest's %s fake timers", (kind, config) => {
  function fake(now: string): void {
    legacy = kind === 'legacy';
    // Legacy timers ignore now and leave Date alone: cron's ticks then follow the real clock.
    jest.useFakeTimers({ ...config, now: new Date(now) });
  }
  // Ticks of a cron follow Date. Legacy timers leave Date real, so whether cron fires a
  // per-second tick during an advance depends on where the real clock is (for @Cron as for
  // @LockedCron, each on its own timer): nothing to compare. These run under modern timers only.
  if (kind === 'modern') {
    it('runs at every tick of a synchronous advance, as @Cron', async () => {
      fake('2030-01-01T00:00:00.500Z');
      const tasks = (await boot(EverySecond)).get(EverySecond);
      jest.advanceTimersByTime(3_000);
      expect(tasks.cronCalls).toBe(3);
      expect(tasks.lockedCalls).toBe(tasks.cronCalls);
    });

    it('runs at every tick of an async advance, as @Cron', async () => {
      fake('2030-01-01T00:00:00.500Z');
      const tasks = (await boot(EverySecond)).get(EverySecond);
      await advance(3_000);
      expect(tasks.cronCalls).toBe(3);
      expect(tasks.lockedCalls).toBe(tasks.cronCalls);
    });

    it('minHold: runs every tick after its hold, as @Cron', async () => {
      fake('2030-01-01T00:00:05.000Z');
      const ref = await boot(Held);
      const skipped: string[] = [];
      ref.get(CronLockService).on('skipped', (event) => skipped.push(event.reason));
      await advance(30_000);
      expect(skipped).toEqual([]);
      expect(ref.get(Held).cronCalls).toBe(3);
      expect(ref.get(Held).lockedCalls).toBe(ref.get(Held).cronCalls);
    });
  }

  it('a tick whose run outlasts its ttl in one synchronous advance keeps its lock', async () => {
    fake('2030-01-01T00:10:00.000Z');
    const ref = await boot(LongJob);
    const lost: string[] = [];
    ref.get(CronLockService).on('lost', (event) => lost.push(event.reason));
    jest.advanceTimersByTime(5 * 60_000 + 46_000);
    await settle();
    expect(lost).toEqual([]);
    expect(ref.get(LongJob).outcomes).toEqual(kind === 'legacy' ? [] : ['done']);
  });

  it('runLockedJob: a run that outlasts its ttl in one synchronous advance keeps its lock', async () => {
    fake('2030-01-01T00:10:00.000Z');
    const ref = await boot(LongJob);
    const lost: string[] = [];
    ref.get(CronLockService).on('lost', (event) => lost.push(event.reason));
    const running = runLockedJob(ref, 'long', { scheduledAt: new Date('2026-01-01T00:00:00Z') });
    await settle();
    jest.advanceTimersByTime(46_000);
    await expect(running).resolves.toMatchObject({ ran: true });
    expect(lost).toEqual([]);
    expect(ref.get(LongJob).outcomes).toEqual(['done']);
  });

  it("overlap 'queue': the occurrence behind a run runs at its release", async () => {
    fake('2030-01-01T00:00:05.000Z');
    const ref = await boot(Queued);
    const first = runLockedJob(ref, 'queued', { scheduledAt: new Date('2026-01-01T00:00:10Z') });
    await settle();
    const second = await runLockedJob(ref, 'queued', {
      scheduledAt: new Date('2026-01-01T00:00:20Z'),
    });
    expect(second).toMatchObject({ ran: false, reason: 'queued' });
    await advance(31_000);
    await expect(first).resolves.toMatchObject({ ran: true });
    expect(ref.get(Queued).seen.slice(0, 2)).toEqual([
      '2026-01-01T00:00:10.000Z',
      '2026-01-01T00:00:20.000Z',
    ]);
  });

  it('runLockedJob runs an occurrence once, without advancing the clock', async () => {
    fake('2030-01-01T00:10:30.000Z');
    const ref = await boot(Minutely);
    await expect(runLockedJob(ref, 'minutely')).resolves.toMatchObject({ ran: true });
    await expect(runLockedJob(ref, 'minutely')).resolves.toEqual({
      ran: false,
      reason: 'tick-done',
    });
    expect(ref.get(Minutely).seen).toHaveLength(1);
  });
});

it("catchUp 'all': a jest.setSystemTime() jump runs the skipped occurrences before the next tick", async () => {
  jest.useFakeTimers({ now: new Date('2030-01-01T10:00:30.000Z') });
  const ref = await boot(Minutely);
  const missed: string[] = [];
  ref.get(CronLockService).on('missed', (event) => missed.push(event.scheduledAt.toISOString()));
  await jest.advanceTimersByTimeAsync(60_000);
  jest.setSystemTime(Date.now() + 3 * 60_000);
  await jest.advanceTimersByTimeAsync(60_000);
  expect(missed).toEqual([]);
  expect(ref.get(Minutely).seen).toEqual([
    'schedule 2030-01-01T10:01:00.000Z',
    'catch-up 2030-01-01T10:02:00.000Z',
    'catch-up 2030-01-01T10:03:00.000Z',
    'catch-up 2030-01-01T10:04:00.000Z',
    'schedule 2030-01-01T10:05:00.000Z',
  ]);
});
