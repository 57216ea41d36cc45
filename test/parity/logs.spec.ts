// What a job's runs write to the app's logger: each thing once, at the level a @Cron user
// expects (issue: a job's error was logged twice, every completed run at `log` level, and every
// instance logged a line for each occurrence another instance ran).
import { Injectable } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLockStore } from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { bootWith, closeAll, LOCKED_CRON, VARIANTS, type Variant } from './support.js';

const YEARLY = '0 0 1 1 *';

function jobsWith(variant: Variant) {
  @Injectable()
  class Noisy {
    @variant.decorate(YEARLY, { name: 'failing' })
    async failing(): Promise<void> {
      throw new Error('upstream down');
    }

    @variant.decorate(YEARLY, { name: 'fine' })
    async fine(): Promise<string> {
      return 'ok';
    }
  }
  return Noisy;
}

/** Lines that are not about the app starting or stopping (Nest's own bootstrap lines). */
function jobLines(logger: CapturingLogger) {
  return logger.lines.filter(
    (line) => !['InstanceLoader', 'NestFactory', 'RoutesResolver'].includes(line.context ?? ''),
  );
}

afterEach(closeAll);

describe.each(VARIANTS)('logs with %s', (_label, variant) => {
  it("logs a failing tick's error once, at error level", async () => {
    const logger = new CapturingLogger();
    const ref = await bootWith(variant, [jobsWith(variant)], { logger });
    await ref.get(SchedulerRegistry).getCronJob('failing').fireOnTick();

    const mentions = jobLines(logger).filter((line) => `${line.message}`.includes('upstream down'));
    expect(mentions.map((line) => line.level)).toEqual(['error']);
  });

  it('writes nothing above debug for a completed tick', async () => {
    const logger = new CapturingLogger();
    const ref = await bootWith(variant, [jobsWith(variant)], { logger });
    await ref.get(SchedulerRegistry).getCronJob('fine').fireOnTick();

    const loud = jobLines(logger).filter((line) => !['debug', 'verbose'].includes(line.level));
    expect(loud).toEqual([]);
  });
});

describe('logs of @LockedCron on two instances', () => {
  it('writes no line by default for an occurrence another instance ran', async () => {
    const store = new MemoryLockStore();
    const logger = new CapturingLogger();
    const Jobs = jobsWith(LOCKED_CRON);
    const first = await bootWith(LOCKED_CRON, [Jobs], { store });
    const second = await bootWith(LOCKED_CRON, [Jobs], { store, logger });
    await first.get(SchedulerRegistry).getCronJob('fine').fireOnTick();
    await second.get(SchedulerRegistry).getCronJob('fine').fireOnTick();

    expect(jobLines(logger).filter((line) => line.context === 'CronLock')).toEqual([]);
  });
});
