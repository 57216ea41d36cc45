// One-shot jobs: @Cron(new Date(...)) runs once at that date; so does @LockedCron(date), once
// across the fleet (issue: it failed at bootstrap with "invalid cron expression").
import { createRequire } from 'node:module';
import { Injectable } from '@nestjs/common';
import { Cron, SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DateTime as LuxonDateTime } from 'luxon';
import { CronLock, MemoryLockStore, type LockContext } from 'nestjs-cron-lock';
import {
  bootWith,
  closeAll,
  LOCKED_CRON,
  settle,
  VARIANTS,
  type CronTimeInput,
  type Variant,
} from './support.js';

/**
 * luxon as `cron` loads it (CommonJS), so that `cron` knows its `DateTime` as a CommonJS app's
 * own: an ES module import here would load luxon's ES build, another class.
 */
const { DateTime } = createRequire(import.meta.url)('luxon') as {
  DateTime: typeof LuxonDateTime;
};

const START = new Date('2030-01-01T00:00:00.500Z');
const AT = new Date('2030-01-01T00:00:02.000Z');

function oneShot(variant: Variant, at: CronTimeInput = AT) {
  @Injectable()
  class Launch {
    readonly runs: (number | null)[] = [];

    @variant.decorate(at, { name: 'launch' })
    async go(ctx?: LockContext): Promise<void> {
      this.runs.push(ctx ? ctx.scheduledAt.getTime() : null);
    }
  }
  return Launch;
}

afterEach(async () => {
  await closeAll();
  vi.useRealTimers();
});

describe.each(VARIANTS)('a one-shot date with %s', (_label, variant) => {
  it('runs once, at the date, and registers the job', async () => {
    vi.useFakeTimers({ now: START });
    const Launch = oneShot(variant);
    const ref = await bootWith(variant, [Launch]);
    expect(ref.get(SchedulerRegistry).getCronJob('launch').nextDate().toMillis()).toBe(
      AT.getTime(),
    );

    await vi.advanceTimersByTimeAsync(1_000);
    expect(ref.get(Launch).runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(10_000);
    await settle();
    expect(ref.get(Launch).runs).toEqual([variant.locked ? AT.getTime() : null]);
  });
});

// Issue: @LockedCron typed its first argument `string | Date`, so a luxon DateTime, which @Cron
// takes, did not compile.
describe('a one-shot luxon DateTime', () => {
  it('runs once at that time across two instances, as @Cron runs it once', async () => {
    vi.useFakeTimers({ now: START });
    const at: LuxonDateTime = DateTime.fromJSDate(AT);
    const runs = async (variant: Variant, instances: number): Promise<(number | null)[]> => {
      const Launch = oneShot(variant, at);
      const store = new MemoryLockStore();
      const apps = [];
      for (let i = 0; i < instances; i++) {
        apps.push(await bootWith(variant, [Launch], { store }));
      }
      await vi.advanceTimersByTimeAsync(5_000);
      await settle();
      const all = apps.flatMap((app) => app.get(Launch).runs);
      await closeAll();
      return all;
    };
    expect(await runs(LOCKED_CRON, 2)).toEqual([AT.getTime()]);
    vi.setSystemTime(START);
    expect(await runs(VARIANTS[0]![1], 1)).toEqual([null]);
  });
});

describe('a one-shot date with @LockedCron on two instances', () => {
  it('runs once across both', async () => {
    vi.useFakeTimers({ now: START });
    const store = new MemoryLockStore();
    const Launch = oneShot(LOCKED_CRON);
    const first = await bootWith(LOCKED_CRON, [Launch], { store });
    const second = await bootWith(LOCKED_CRON, [Launch], { store });

    await vi.advanceTimersByTimeAsync(5_000);
    await settle();
    expect([...first.get(Launch).runs, ...second.get(Launch).runs]).toEqual([AT.getTime()]);
  });
});

// Issue: @CronLock read no occurrence from a hand-written @Cron(date), so every instance up at
// the date ran the job (the lock only kept the runs from overlapping), as manual runs.
describe('a one-shot date with @Cron and @CronLock on two instances', () => {
  function composed(at: Date) {
    @Injectable()
    class Launch {
      readonly runs: { scheduledAt: number; trigger: string }[] = [];

      @Cron(at, { name: 'launch-above' })
      @CronLock()
      async above(ctx: LockContext): Promise<void> {
        this.runs.push({ scheduledAt: ctx.scheduledAt.getTime(), trigger: ctx.trigger });
      }

      @CronLock()
      @Cron(at, { name: 'launch-below' })
      async below(ctx: LockContext): Promise<void> {
        this.runs.push({ scheduledAt: ctx.scheduledAt.getTime(), trigger: ctx.trigger });
      }
    }
    return Launch;
  }

  it('runs each job once across both, above or below @Cron', async () => {
    vi.useFakeTimers({ now: START });
    const store = new MemoryLockStore();
    const Launch = composed(AT);
    const first = await bootWith(LOCKED_CRON, [Launch], { store });
    const second = await bootWith(LOCKED_CRON, [Launch], { store });

    await vi.advanceTimersByTimeAsync(5_000);
    await settle();
    const once = { scheduledAt: AT.getTime(), trigger: 'schedule' };
    expect([...first.get(Launch).runs, ...second.get(Launch).runs]).toEqual([once, once]);
  });
});
