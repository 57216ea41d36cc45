// A user's fake-timer test of an every-second job passes unchanged after the swap from @Cron to
// @LockedCron on the testing module's in-memory store: each tick of a synchronous advance reaches
// the method as it does under @Cron (issue: 0 calls, then 1, because ticks 2 and 3 found the
// lock of tick 1 still held).
import { Injectable } from '@nestjs/common';
import { CronExpression } from '@nestjs/schedule';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bootWith, closeAll, settle, VARIANTS, type Variant } from './support.js';

const START = new Date('2030-01-01T00:00:00.500Z');

function jobsWith(variant: Variant) {
  @Injectable()
  class EverySecond {
    syncCalls = 0;
    asyncCalls = 0;
    finished = 0;

    @variant.decorate(CronExpression.EVERY_SECOND)
    countSync(): void {
      this.syncCalls += 1;
    }

    @variant.decorate(CronExpression.EVERY_SECOND)
    async countAsync(): Promise<void> {
      this.asyncCalls += 1;
      await Promise.resolve();
      this.finished += 1;
    }
  }
  return EverySecond;
}

afterEach(async () => {
  await closeAll();
  vi.useRealTimers();
});

describe.each(VARIANTS)('fake timers with %s', (_label, variant) => {
  it('calls a synchronous job once per tick of one synchronous advance', async () => {
    vi.useFakeTimers({ now: START });
    const Jobs = jobsWith(variant);
    const jobs = (await bootWith(variant, [Jobs])).get(Jobs);

    vi.advanceTimersByTime(3_000);
    expect(jobs.syncCalls).toBe(3);
  });

  it('enters an async job once per tick of one synchronous advance', async () => {
    vi.useFakeTimers({ now: START });
    const Jobs = jobsWith(variant);
    const jobs = (await bootWith(variant, [Jobs])).get(Jobs);

    vi.advanceTimersByTime(3_000);
    expect(jobs.asyncCalls).toBe(3);
    await settle();
    expect(jobs.finished).toBe(3);
  });

  it('calls the job once per tick with the async advance', async () => {
    vi.useFakeTimers({ now: START });
    const Jobs = jobsWith(variant);
    const jobs = (await bootWith(variant, [Jobs])).get(Jobs);

    await vi.advanceTimersByTimeAsync(3_000);
    expect(jobs.syncCalls).toBe(3);
    expect(jobs.asyncCalls).toBe(3);
  });
});

describe.each(VARIANTS)("fake timers with %s and Jest's defaults", (_label, variant) => {
  // Jest's modern fake timers also fake queueMicrotask and process.nextTick; Jest itself is not
  // a dependency of this project, so its defaults are reproduced with Vitest's (the same
  // @sinonjs/fake-timers underneath). nextTick cannot be faked in Vitest's forks pool: nothing
  // on the tick's path uses it.
  const JEST_DEFAULTS = {
    now: START,
    toFake: [
      'setTimeout',
      'clearTimeout',
      'setInterval',
      'clearInterval',
      'setImmediate',
      'clearImmediate',
      'Date',
      'queueMicrotask',
    ],
  } as const;

  it('calls a job once per tick of one synchronous advance, twice in a row', async () => {
    vi.useFakeTimers({ ...JEST_DEFAULTS, toFake: [...JEST_DEFAULTS.toFake] });
    const Jobs = jobsWith(variant);
    const jobs = (await bootWith(variant, [Jobs])).get(Jobs);

    vi.advanceTimersByTime(3_000);
    expect(jobs.syncCalls).toBe(3);
    expect(jobs.asyncCalls).toBe(3);
    await settle();
    vi.advanceTimersByTime(2_000);
    expect(jobs.syncCalls).toBe(5);
    expect(jobs.asyncCalls).toBe(5);
  });
});

describe.each(VARIANTS)('close() under fake timers with %s', (_label, variant) => {
  it('returns once the test advances the clock past a run in flight', async () => {
    vi.useFakeTimers({ now: START });
    @Injectable()
    class Slow {
      done = 0;

      @variant.decorate(CronExpression.EVERY_SECOND, { name: 'slow' })
      async work(): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        this.done += 1;
      }
    }
    const ref = await bootWith(variant, [Slow]);
    vi.advanceTimersByTime(1_000);

    // @LockedCron's close() waits for the run (guarantee 9) on the fake clock: advance it.
    const closing = ref.close();
    await vi.advanceTimersByTimeAsync(5_000);
    await closing;
    expect(ref.get(Slow).done).toBe(1);
  });
});
