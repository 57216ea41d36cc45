// A method decorator from another library stacked with the schedule decorator keeps the job
// scheduled and locked, in either order. Tracing decorators (an OpenTelemetry span, Sentry's
// tracing) replace the method by a wrapper and copy every metadata key of the method onto it,
// precisely so that `@Cron` above or below them keeps working. (issue: stacked above
// @LockedCron, such a wrapper made `app.init()` reject, saying CronLockModule was not imported.)
// A @Cron, @Interval or @Timeout left beside @LockedCron is refused at bootstrap. (issue: above
// it, its ticks ran on every instance; below it, it was silently dropped.)
import { Injectable } from '@nestjs/common';
import { Cron, Interval, SchedulerRegistry, Timeout } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLock, CronLockConfigError, LockedCron } from 'nestjs-cron-lock';
import { runLockedJob } from 'nestjs-cron-lock/testing';
import { bootError, bootWith, closeAll, LOCKED_CRON, VARIANTS, type Variant } from './support.js';

/** Never fires by itself during a test. */
const YEARLY = '0 0 1 1 *';

/** What a tracing decorator does: wraps the method and copies its metadata onto the wrapper. */
function Traced(spans: string[]): MethodDecorator {
  return (_target, methodKey, descriptor: PropertyDescriptor) => {
    const original = descriptor.value as (...args: unknown[]) => unknown;
    const traced = function (this: unknown, ...args: unknown[]): unknown {
      spans.push(String(methodKey));
      return original.apply(this, args);
    };
    for (const key of Reflect.getMetadataKeys(original) as unknown[]) {
      Reflect.defineMetadata(key, Reflect.getMetadata(key, original), traced);
    }
    descriptor.value = traced;
    return descriptor;
  };
}

function tracedAbove(variant: Variant, spans: string[]) {
  @Injectable()
  class Reports {
    calls = 0;

    @Traced(spans)
    @variant.decorate(YEARLY, { name: 'traced-above' })
    async report(): Promise<number> {
      return ++this.calls;
    }
  }
  return Reports;
}

function tracedBelow(variant: Variant, spans: string[]) {
  @Injectable()
  class Reports {
    calls = 0;

    @variant.decorate(YEARLY, { name: 'traced-below' })
    @Traced(spans)
    async report(): Promise<number> {
      return ++this.calls;
    }
  }
  return Reports;
}

afterEach(closeAll);

describe.each(VARIANTS)('another method decorator stacked with %s', (_label, variant) => {
  it.each([
    ['above', tracedAbove, 'traced-above'],
    ['below', tracedBelow, 'traced-below'],
  ] as const)(
    '%s it: boots, ticks run through both, direct calls return',
    async (_o, make, name) => {
      const spans: string[] = [];
      const Reports = make(variant, spans);
      const ref = await bootWith(variant, [Reports]);
      const reports = ref.get(Reports);

      await ref.get(SchedulerRegistry).getCronJob(name).fireOnTick();
      expect(reports.calls).toBe(1);
      expect(await reports.report()).toBe(2);
      expect(spans).toEqual(['report', 'report']);
    },
  );
});

describe('another method decorator stacked above @LockedCron', () => {
  it('leaves the job to runLockedJob() under its lock name', async () => {
    const variant = VARIANTS[1][1];
    const Reports = tracedAbove(variant, []);
    const ref = await bootWith(variant, [Reports]);

    expect(await runLockedJob(ref, 'traced-above')).toMatchObject({ ran: true, value: 1 });
    expect(await runLockedJob(ref, 'traced-above')).toEqual({ ran: false, reason: 'tick-done' });
  });
});

/** Long enough never to fire during a test. */
const HOURLY_MS = 3_600_000;

/** A @nestjs/schedule decorator left on a method beside @LockedCron, as written above or below it. */
const SCHEDULES = [
  ['@Cron', () => Cron(YEARLY, { name: 'plain' })],
  ['@Interval', () => Interval('plain', HOURLY_MS)],
  ['@Timeout', () => Timeout('plain', HOURLY_MS)],
] as const;

function besideLockedCron(schedule: () => MethodDecorator, position: 'above' | 'below') {
  if (position === 'above') {
    @Injectable()
    class Beside {
      @schedule()
      @LockedCron(YEARLY, { name: 'locked' })
      async work(): Promise<void> {}
    }
    return Beside;
  }
  @Injectable()
  class Beside {
    @LockedCron(YEARLY, { name: 'locked' })
    @schedule()
    async work(): Promise<void> {}
  }
  return Beside;
}

describe('a @nestjs/schedule decorator on the same method as @LockedCron', () => {
  // Above, the scheduler mounted the other decorator's job, whose ticks ran as manual runs on
  // every instance (the occurrence never claimed); below, its schedule and options were dropped.
  it.each(
    SCHEDULES.flatMap(([name, schedule]) =>
      (['above', 'below'] as const).map((position) => [name, position, schedule] as const),
    ),
  )(
    '%s written %s it fails bootstrap, naming the method and the fix',
    async (name, position, schedule) => {
      const error = await bootError(LOCKED_CRON, [besideLockedCron(schedule, position)]);

      expect(error).toBeInstanceOf(CronLockConfigError);
      expect(error.message).toContain(`Beside.work: ${name} is written ${position} @LockedCron`);
      expect(error.message).toContain('Fix: ');
      expect(error.message).toContain(name === '@Cron' ? 'remove @Cron' : '@CronLock');
    },
  );
});

describe('the same decorators beside @CronLock, as docs/usage.md shows them', () => {
  it.each(['above', 'below'] as const)(
    'written %s it, they boot and are mounted',
    async (position) => {
      function stacked(schedule: () => MethodDecorator, name: string) {
        if (position === 'above') {
          @Injectable()
          class Kept {
            @schedule()
            @CronLock({ name })
            async work(): Promise<void> {}
          }
          return Kept;
        }
        @Injectable()
        class Kept {
          @CronLock({ name })
          @schedule()
          async work(): Promise<void> {}
        }
        return Kept;
      }
      const ref = await bootWith(LOCKED_CRON, [
        { provide: 'cron', useClass: stacked(() => Cron(YEARLY, { name: 'c' }), 'kept-cron') },
        { provide: 'interval', useClass: stacked(() => Interval('i', HOURLY_MS), 'kept-interval') },
        { provide: 'timeout', useClass: stacked(() => Timeout('t', HOURLY_MS), 'kept-timeout') },
      ]);
      const scheduler = ref.get(SchedulerRegistry);

      expect(scheduler.doesExist('cron', 'c')).toBe(true);
      expect(scheduler.doesExist('interval', 'i')).toBe(true);
      expect(scheduler.doesExist('timeout', 't')).toBe(true);
    },
  );
});
