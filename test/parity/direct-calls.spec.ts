// Calling the decorated method from application code ("run the report now") runs it and returns
// its value under both decorators. Under @LockedCron it is a manual run: under the lock, claiming
// no occurrence, with ctx.trigger 'manual' (issue: it was skipped as tick-done and returned
// undefined once the occurrence had run).
import { Injectable } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import type { LockContext } from 'nestjs-cron-lock';
import { bootWith, closeAll, VARIANTS, type Variant } from './support.js';

/** Never fires by itself during a test. */
const YEARLY = '0 0 1 1 *';

/** The trigger of a locked run, or 'none' for @Cron (which passes no context). */
function triggerOf(ctx: LockContext | undefined): string {
  return (ctx as { trigger?: string } | undefined)?.trigger ?? 'none';
}

function jobsWith(variant: Variant) {
  @Injectable()
  class Reports {
    readonly runs: string[] = [];

    @variant.decorate(YEARLY, { name: 'report' })
    async report(ctx?: LockContext): Promise<string> {
      this.runs.push(triggerOf(ctx));
      return `report ${this.runs.length}`;
    }
  }
  return Reports;
}

afterEach(closeAll);

describe.each(VARIANTS)('direct calls with %s', (_label, variant) => {
  it('runs the method and returns its value at every call', async () => {
    const Reports = jobsWith(variant);
    const reports = (await bootWith(variant, [Reports])).get(Reports);

    expect(await reports.report()).toBe('report 1');
    expect(await reports.report()).toBe('report 2');
    expect(reports.runs).toEqual(variant.locked ? ['manual', 'manual'] : ['none', 'none']);
  });

  it('still runs when called after a scheduler tick of the same occurrence', async () => {
    const Reports = jobsWith(variant);
    const ref = await bootWith(variant, [Reports]);
    const reports = ref.get(Reports);

    await ref.get(SchedulerRegistry).getCronJob('report').fireOnTick();
    expect(await reports.report()).toBe('report 2');
    expect(reports.runs).toEqual(variant.locked ? ['schedule', 'manual'] : ['none', 'none']);
  });
});
