// Job names: what @Cron accepts, @LockedCron accepts (or explains), and a clash reads clearly.
import { Injectable, Module, type Provider, type Type } from '@nestjs/common';
import { Cron, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  LockedCron,
  MemoryLockStore,
  type LockContext,
} from 'nestjs-cron-lock';
import { CronLockTestingModule } from 'nestjs-cron-lock/testing';
import {
  bootError,
  bootWith,
  closeAll,
  CRON,
  LOCKED_CRON,
  VARIANTS,
  type Variant,
} from './support.js';

const YEARLY = '0 0 1 1 *';

/** A job class named `className` (two feature modules may each have a `TasksService`). */
function tasksClass(variant: Variant, className: string, name?: string) {
  @Injectable()
  class Tasks {
    @variant.decorate(YEARLY, name === undefined ? {} : { name })
    async handleCron(ctx?: LockContext): Promise<string> {
      return ctx?.name ?? 'ran';
    }
  }
  Object.defineProperty(Tasks, 'name', { value: className });
  return Tasks;
}

afterEach(closeAll);

/** A `@LockedCron` job and a plain `@Cron` job of another class, both named `name`. */
function lockedAndPlain(name: string) {
  @Injectable()
  class LockedTasks {
    @LockedCron(YEARLY, { name })
    sync(): void {}
  }
  @Injectable()
  class PlainTasks {
    @Cron(YEARLY, { name })
    sync(): void {}
  }
  return { LockedTasks, PlainTasks };
}

/**
 * What `app.init()` rejected with. `scheduleFirst` puts ScheduleModule before the lock module in
 * `imports`, which decides whose `onModuleInit` runs first: both orders must read the same.
 */
async function initError(providers: Provider[], scheduleFirst: boolean): Promise<Error> {
  const lock = CronLockTestingModule.forRoot({ store: new MemoryLockStore() });
  const schedule = ScheduleModule.forRoot();
  const ref = await Test.createTestingModule({
    imports: scheduleFirst ? [schedule, lock] : [lock, schedule],
    providers,
  }).compile();
  try {
    await ref.init();
  } catch (error) {
    await ref.close().catch(() => undefined);
    return error as Error;
  }
  await ref.close();
  throw new Error('expected app.init() to reject, but the app booted');
}

const ORDERS = [
  ['ScheduleModule imported first', true],
  ['CronLockModule imported first', false],
] as const;

describe('names', () => {
  it('@LockedCron says when two different classes share a class name, and how to fix it', async () => {
    const error = await bootError(LOCKED_CRON, [
      tasksClass(LOCKED_CRON, 'TasksService'),
      tasksClass(LOCKED_CRON, 'TasksService'),
    ]);
    expect(error).toBeInstanceOf(CronLockConfigError);
    expect(error.message).toContain('two different classes are named TasksService');
    expect(error.message).toContain('Fix: give one of them a { name } option');
  });

  it('@Cron boots two different classes of one class name (its unnamed jobs get random names)', async () => {
    await bootWith(CRON, [tasksClass(CRON, 'TasksService'), tasksClass(CRON, 'TasksService')]);
  });

  describe.each(VARIANTS)('with %s', (_label, variant) => {
    it('accepts a name with a space and registers the job under it', async () => {
      const Tasks = tasksClass(variant, 'DailyTasks', 'daily report');
      const ref = await bootWith(variant, [Tasks]);
      expect(ref.get(SchedulerRegistry).getCronJob('daily report')).toBeDefined();
      expect(await ref.get(Tasks).handleCron()).toBe(variant.locked ? 'daily_report' : 'ran');
    });

    it("rejects a duplicate explicit name with @nestjs/schedule's words", async () => {
      const error = await bootError(variant, [
        tasksClass(variant, 'FirstTasks', 'nightly'),
        tasksClass(variant, 'SecondTasks', 'nightly'),
      ]);
      expect(error.message).toContain('Cron Job with the given name (nightly) already exists');
    });
  });

  describe.each(ORDERS)('with %s', (_label, scheduleFirst) => {
    it('rejects a @LockedCron and a plain @Cron of one name, naming both methods and the fix', async () => {
      const { LockedTasks, PlainTasks } = lockedAndPlain('sync');
      for (const providers of [
        [LockedTasks, PlainTasks],
        [PlainTasks, LockedTasks],
      ]) {
        const error = await initError(providers, scheduleFirst);
        expect(error).toBeInstanceOf(CronLockConfigError);
        expect(error.message).toContain('Cron Job with the given name (sync) already exists');
        expect(error.message).toContain('LockedTasks.sync');
        expect(error.message).toContain('PlainTasks.sync');
        expect(error.message).toContain('Fix: give one of them a distinct { name } option');
        expect(error.message).not.toContain('Ignored');
      }
    });

    it('rejects a named @LockedCron job whose class is provided twice, saying so and how to fix it', async () => {
      @Injectable()
      class SyncTasks {
        @LockedCron(YEARLY, { name: 'sync' })
        sync(): void {}
      }
      @Module({ providers: [SyncTasks] })
      class BillingModule {}
      @Module({ providers: [SyncTasks] })
      class ReportsModule {}
      const cases: { imports?: Type[]; providers: Provider[] }[] = [
        { providers: [SyncTasks, { provide: 'SECOND_SYNC', useClass: SyncTasks }] },
        { imports: [BillingModule, ReportsModule], providers: [] },
      ];
      for (const { imports = [], providers } of cases) {
        const lock = CronLockTestingModule.forRoot({ store: new MemoryLockStore() });
        const schedule = ScheduleModule.forRoot();
        const ref = await Test.createTestingModule({
          imports: [...(scheduleFirst ? [schedule, lock] : [lock, schedule]), ...imports],
          providers,
        }).compile();
        const error = await ref.init().then(
          () => new Error('booted'),
          (thrown: Error) => thrown,
        );
        await ref.close().catch(() => undefined);
        expect(error).toBeInstanceOf(CronLockConfigError);
        expect(error.message).toContain('Cron Job with the given name (sync) already exists');
        expect(error.message).toContain('SyncTasks.sync');
        expect(error.message).toContain('SyncTasks is provided twice');
        expect(error.message).toContain('Fix: provide SyncTasks once');
      }
    });

    it('boots the @LockedCron class alone after an app with the clash failed', async () => {
      const { LockedTasks, PlainTasks } = lockedAndPlain('sync');
      await initError([LockedTasks, PlainTasks], scheduleFirst);
      const ref = await bootWith(LOCKED_CRON, [LockedTasks]);
      expect(ref.get(SchedulerRegistry).getCronJob('sync')).toBeDefined();
    });
  });
});
