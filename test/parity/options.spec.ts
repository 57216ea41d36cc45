// Every key of @nestjs/schedule's CronOptions reaches the scheduled job with the same meaning
// under @LockedCron as under @Cron (issue: options other than name, timeZone, utcOffset and
// disabled were dropped without a word).
import { Injectable } from '@nestjs/common';
import { CronExpression, SchedulerRegistry, type CronOptions } from '@nestjs/schedule';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CronLockService, type LockContext } from 'nestjs-cron-lock';
import {
  bootWith,
  closeAll,
  CRON,
  LOCKED_CRON,
  settle,
  VARIANTS,
  type Variant,
} from './support.js';

/** A fixed half second past a full second: ticks of an every-second job come at .000. */
const START = new Date('2030-01-01T00:00:00.500Z');

function jobsWith(variant: Variant, options: CronOptions) {
  @Injectable()
  class OptionJobs {
    calls = 0;

    @variant.decorate(CronExpression.EVERY_SECOND, { name: 'opts', ...options } as CronOptions)
    tick(): void {
      this.calls += 1;
    }
  }
  return OptionJobs;
}

/** What SchedulerRegistry shows of the job registered under `opts`. */
async function registeredJob(variant: Variant, options: CronOptions) {
  const Jobs = jobsWith(variant, options);
  const ref = await bootWith(variant, [Jobs]);
  const job = ref.get(SchedulerRegistry).getCronJob('opts');
  return {
    name: job.name,
    isActive: job.isActive,
    waitForCompletion: job.waitForCompletion,
    threshold: job.threshold,
    unrefTimeout: job.unrefTimeout,
    timeZone: job.cronTime.timeZone,
    utcOffset: job.cronTime.utcOffset,
  };
}

afterEach(async () => {
  await closeAll();
  vi.useRealTimers();
});

describe('CronOptions keys under @LockedCron', () => {
  it.each<[string, CronOptions]>([
    ['name', { name: 'opts' }],
    ['waitForCompletion', { waitForCompletion: true }],
    ['threshold', { threshold: 1_000 }],
    ['unrefTimeout', { unrefTimeout: true }],
    ['timeZone', { timeZone: 'Europe/Paris' }],
    ['utcOffset', { utcOffset: 120 }],
    ['disabled', { disabled: true }],
    ['initialDelay', { initialDelay: 5_000 }],
  ])('registers a job with %s as @Cron does', async (_key, options) => {
    const withCron = await registeredJob(CRON, options);
    const withLock = await registeredJob(LOCKED_CRON, options);
    expect(withLock).toEqual(withCron);
  });

  describe.each(VARIANTS)('initialDelay with %s', (_label, variant) => {
    it('runs nothing before the delay, then every tick', async () => {
      vi.useFakeTimers({ now: START });
      const Jobs = jobsWith(variant, { initialDelay: 5_000 });
      const ref = await bootWith(variant, [Jobs]);
      const jobs = ref.get(Jobs);

      vi.advanceTimersByTime(4_999);
      await settle();
      expect(jobs.calls).toBe(0);

      // The delay ends at 5.5 s; ticks at 6 s and 7 s follow.
      vi.advanceTimersByTime(2_001);
      await settle();
      expect(jobs.calls).toBe(2);
    });

    it('runs every tick after the delay when the clock is set back during it', async () => {
      vi.useFakeTimers({ now: START });
      const Jobs = jobsWith(variant, { initialDelay: 5_000 });
      const ref = await bootWith(variant, [Jobs]);
      const jobs = ref.get(Jobs);

      // The wall clock steps back an hour (an NTP correction, or a test's setSystemTime): the
      // delay is a timer, and ends 5 s after bootstrap all the same.
      vi.setSystemTime(START.getTime() - 3_600_000);
      vi.advanceTimersByTime(4_999);
      await settle();
      expect(jobs.calls).toBe(0);

      vi.advanceTimersByTime(2_001);
      await settle();
      expect(jobs.calls).toBe(2);
    });
  });

  describe.each(VARIANTS)(
    'a tick that fires after the next occurrence, with %s',
    (_label, variant) => {
      it('runs once, for the occurrence it fires in; the lock reports the one it was due for missed', async () => {
        // Only Date is faked: the scheduler's timers run on the real clock, and the test moves the
        // wall clock on before one fires, as an event loop blocked that long would.
        vi.useFakeTimers({ now: START, toFake: ['Date'] });
        @Injectable()
        class LateJobs {
          readonly calls: (string | undefined)[] = [];

          @variant.decorate(CronExpression.EVERY_SECOND, { name: 'late' })
          tick(ctx?: LockContext): void {
            this.calls.push(ctx?.scheduledAt.toISOString());
          }
        }
        const ref = await bootWith(variant, [LateJobs]);
        const jobs = ref.get(LateJobs);
        const missed: string[] = [];
        if (variant.locked) {
          ref
            .get(CronLockService)
            .on('missed', (event) => missed.push(event.scheduledAt.toISOString()));
        }

        vi.setSystemTime(new Date('2030-01-01T00:00:01.000Z'));
        await vi.waitFor(() => expect(jobs.calls).toHaveLength(1), { timeout: 10_000 });
        // The tick due at 00:00:02 fires at 00:00:03.300.
        vi.setSystemTime(new Date('2030-01-01T00:00:03.300Z'));
        await vi.waitFor(() => expect(jobs.calls).toHaveLength(2), { timeout: 10_000 });

        if (variant.locked) {
          expect(jobs.calls).toEqual(['2030-01-01T00:00:01.000Z', '2030-01-01T00:00:03.000Z']);
          await vi.waitFor(() => expect(missed).toEqual(['2030-01-01T00:00:02.000Z']));
        }
      });
    },
  );
});
