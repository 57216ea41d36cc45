// Job names: what @Cron accepts, @LockedCron accepts (or explains), and a clash reads clearly.
import { Injectable } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockConfigError, type LockContext } from 'nestjs-cron-lock';
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
});
