// SchedulerRegistry and the app's lifecycle behave the same under @LockedCron as under @Cron:
// lookups by name, disabled then start(), stop and delete, jobs added at run time, request-scoped
// providers, and close() while an initialDelay is pending.
import { Injectable, Scope } from '@nestjs/common';
import { CronExpression, SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bootWith, closeAll, VARIANTS, type Variant } from './support.js';

const START = new Date('2030-01-01T00:00:00.500Z');

function jobsWith(variant: Variant, options: { disabled?: boolean; initialDelay?: number } = {}) {
  @Injectable()
  class Jobs {
    calls = 0;

    @variant.decorate(CronExpression.EVERY_SECOND, { name: 'every-second', ...options })
    async tick(): Promise<number> {
      this.calls += 1;
      return this.calls;
    }
  }
  return Jobs;
}

function requestScoped(variant: Variant) {
  @Injectable({ scope: Scope.REQUEST })
  class PerRequest {
    @variant.decorate(CronExpression.EVERY_SECOND, { name: 'per-request' })
    async work(): Promise<string> {
      return 'worked';
    }
  }
  return PerRequest;
}

afterEach(async () => {
  await closeAll();
  vi.useRealTimers();
});

describe.each(VARIANTS)('SchedulerRegistry with %s', (_label, variant) => {
  it('finds the job under its name', async () => {
    const ref = await bootWith(variant, [jobsWith(variant)]);
    const registry = ref.get(SchedulerRegistry);
    expect(registry.doesExist('cron', 'every-second')).toBe(true);
    expect([...registry.getCronJobs().keys()]).toEqual(['every-second']);
    expect(registry.getCronJob('every-second').isActive).toBe(true);
  });

  it('runs a disabled job only once start() is called', async () => {
    vi.useFakeTimers({ now: START });
    const Jobs = jobsWith(variant, { disabled: true });
    const ref = await bootWith(variant, [Jobs]);
    const job = ref.get(SchedulerRegistry).getCronJob('every-second');

    await vi.advanceTimersByTimeAsync(3_000);
    expect(ref.get(Jobs).calls).toBe(0);
    job.start();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(ref.get(Jobs).calls).toBe(3);
  });

  it('stops ticking once the job is stopped, and once it is deleted', async () => {
    vi.useFakeTimers({ now: START });
    const Jobs = jobsWith(variant);
    const ref = await bootWith(variant, [Jobs]);
    const registry = ref.get(SchedulerRegistry);

    await vi.advanceTimersByTimeAsync(2_000);
    expect(ref.get(Jobs).calls).toBe(2);
    registry.getCronJob('every-second').stop();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(ref.get(Jobs).calls).toBe(2);
    registry.getCronJob('every-second').start();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ref.get(Jobs).calls).toBe(3);
    registry.deleteCronJob('every-second');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(ref.get(Jobs).calls).toBe(3);
  });

  it('runs a job added at run time that calls the decorated method', async () => {
    vi.useFakeTimers({ now: START });
    const Jobs = jobsWith(variant, { disabled: true });
    const ref = await bootWith(variant, [Jobs]);
    const jobs = ref.get(Jobs);
    const values: number[] = [];
    const dynamic = CronJob.from({
      cronTime: CronExpression.EVERY_5_SECONDS,
      onTick: async () => {
        values.push(await jobs.tick());
      },
    });
    ref.get(SchedulerRegistry).addCronJob('dynamic', dynamic);
    dynamic.start();

    await vi.advanceTimersByTimeAsync(10_000);
    expect(values).toEqual([1, 2]);
  });

  it('does not schedule a request-scoped provider, whose method still runs when called', async () => {
    const PerRequest = requestScoped(variant);
    const ref = await bootWith(variant, [PerRequest]);
    expect(ref.get(SchedulerRegistry).doesExist('cron', 'per-request')).toBe(false);
    const instance = await ref.resolve(PerRequest);
    expect(await instance.work()).toBe('worked');
  });

  it('closes while an initialDelay is pending, and the job never runs', async () => {
    vi.useFakeTimers({ now: START });
    const Jobs = jobsWith(variant, { initialDelay: 5_000 });
    const ref = await bootWith(variant, [Jobs]);
    const jobs = ref.get(Jobs);

    await vi.advanceTimersByTimeAsync(1_000);
    await ref.close();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(jobs.calls).toBe(0);
  });
});
