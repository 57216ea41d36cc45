// A method decorator from another library stacked with the schedule decorator keeps the job
// scheduled and locked, in either order. Tracing decorators (an OpenTelemetry span, Sentry's
// tracing) replace the method by a wrapper and copy every metadata key of the method onto it,
// precisely so that `@Cron` above or below them keeps working. (issue: stacked above
// @LockedCron, such a wrapper made `app.init()` reject, saying CronLockModule was not imported.)
import { Injectable } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import { runLockedJob } from 'nestjs-cron-lock/testing';
import { bootWith, closeAll, VARIANTS, type Variant } from './support.js';

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
