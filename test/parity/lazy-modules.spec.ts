// A decorated provider of a module loaded with LazyModuleLoader after bootstrap behaves under
// @LockedCron as under @Cron: the scheduler, done exploring, does not schedule it, and calling the
// method runs it and returns its value (under @LockedCron, a manual run under the app's lock).
// (issue: under @LockedCron the call threw "CronLockModule is not imported in this app".)
import { Injectable, Module, Scope } from '@nestjs/common';
import { LazyModuleLoader } from '@nestjs/core';
import { SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockService, type LockContext } from 'nestjs-cron-lock';
import { bootWith, closeAll, VARIANTS, type Variant } from './support.js';

/** Never fires by itself during a test. */
const YEARLY = '0 0 1 1 *';

function lazyModule(variant: Variant) {
  @Injectable()
  class Exports {
    readonly triggers: string[] = [];

    @variant.decorate(YEARLY, { name: 'lazy-export' })
    async export(ctx?: LockContext, format = 'csv'): Promise<string> {
      this.triggers.push((ctx as { trigger?: string } | undefined)?.trigger ?? 'none');
      return `exported ${format}`;
    }
  }

  @Module({ providers: [Exports] })
  class ExportsModule {}
  return { Exports, ExportsModule };
}

afterEach(closeAll);

describe.each(VARIANTS)('a module loaded lazily, with %s', (_label, variant) => {
  it('is not scheduled, and a call of the method runs it and returns its value', async () => {
    const { Exports, ExportsModule } = lazyModule(variant);
    const ref = await bootWith(variant, []);
    const loaded = await ref.get(LazyModuleLoader).load(() => ExportsModule);
    const exports = loaded.get(Exports);

    expect(ref.get(SchedulerRegistry).doesExist('cron', 'lazy-export')).toBe(false);
    expect(await exports.export()).toBe('exported csv');
    expect(await exports.export()).toBe('exported csv');
    expect(exports.triggers).toEqual(variant.locked ? ['manual', 'manual'] : ['none', 'none']);
  });
});

describe('a module loaded lazily, with @LockedCron', () => {
  it("runs a call under the app's lock: skipped while the app holds it", async () => {
    const variant = VARIANTS[1][1];
    const { Exports, ExportsModule } = lazyModule(variant);
    const ref = await bootWith(variant, []);
    const exports = (await ref.get(LazyModuleLoader).load(() => ExportsModule)).get(Exports);

    const outcome = await ref
      .get(CronLockService)
      .run('lazy-export', {}, async () => exports.export());
    expect(outcome).toMatchObject({ ran: true, value: undefined });
    expect(exports.triggers).toEqual([]);
  });
});

describe.each(VARIANTS)(
  'a transient provider of a module loaded lazily, with %s',
  (_label, variant) => {
    it('is not scheduled, and a call on each instance made for another provider runs it', async () => {
      @Injectable({ scope: Scope.TRANSIENT })
      class Exporter {
        readonly triggers: string[] = [];

        @variant.decorate(YEARLY, { name: 'lazy-transient-export' })
        async export(ctx?: LockContext, format = 'csv'): Promise<string> {
          this.triggers.push((ctx as { trigger?: string } | undefined)?.trigger ?? 'none');
          return `exported ${format}`;
        }
      }

      @Injectable()
      class Invoices {
        constructor(readonly exporter: Exporter) {}
      }

      @Injectable()
      class Receipts {
        constructor(readonly exporter: Exporter) {}
      }

      @Module({ providers: [Exporter, Invoices, Receipts] })
      class ExportersModule {}

      const ref = await bootWith(variant, []);
      const loaded = await ref.get(LazyModuleLoader).load(() => ExportersModule);
      const invoices = loaded.get(Invoices).exporter;
      const receipts = loaded.get(Receipts).exporter;

      expect(invoices).not.toBe(receipts);
      expect(ref.get(SchedulerRegistry).doesExist('cron', 'lazy-transient-export')).toBe(false);
      expect(await invoices.export()).toBe('exported csv');
      expect(await receipts.export()).toBe('exported csv');
      // Made after the first call: by then the app knows the provider.
      const resolved = await loaded.resolve(Exporter);
      expect(await resolved.export()).toBe('exported csv');
      const trigger = variant.locked ? 'manual' : 'none';
      expect([invoices.triggers, receipts.triggers, resolved.triggers]).toEqual([
        [trigger],
        [trigger],
        [trigger],
      ]);
    });
  },
);
