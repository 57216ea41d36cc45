// What a job's runs write to the app's logger: each thing once, at the level a @Cron user
// expects (issue: a job's error was logged twice, every completed run at `log` level, and every
// instance logged a line for each occurrence another instance ran).
import { Injectable } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockConfigError, MemoryLockStore } from 'nestjs-cron-lock';
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

/** What the logger got since `forget()` (bootstrap lines, e.g. "Lock store ready", left out). */
function jobLines(logger: CapturingLogger) {
  return logger.lines;
}

/** Drops what the logger got so far: the lines of booting the app(s). */
function forget(logger: CapturingLogger): void {
  logger.lines.length = 0;
}

afterEach(closeAll);

describe.each(VARIANTS)('logs with %s', (_label, variant) => {
  it("logs a failing tick's error once, at error level", async () => {
    const logger = new CapturingLogger();
    const ref = await bootWith(variant, [jobsWith(variant)], { logger });
    forget(logger);
    await ref.get(SchedulerRegistry).getCronJob('failing').fireOnTick();

    const mentions = jobLines(logger).filter((line) => `${line.message}`.includes('upstream down'));
    expect(mentions.map((line) => line.level)).toEqual(['error']);
  });

  it('writes nothing above debug for a completed tick', async () => {
    const logger = new CapturingLogger();
    const ref = await bootWith(variant, [jobsWith(variant)], { logger });
    forget(logger);
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
    forget(logger);
    await first.get(SchedulerRegistry).getCronJob('fine').fireOnTick();
    await second.get(SchedulerRegistry).getCronJob('fine').fireOnTick();

    expect(jobLines(logger).filter((line) => line.context === 'CronLock')).toEqual([]);
  });
});

describe('log levels of @LockedCron', () => {
  it('writes each kind of line at the level the logLevels option gives it', async () => {
    const store = new MemoryLockStore();
    const logger = new CapturingLogger();
    const Jobs = jobsWith(LOCKED_CRON);
    const lock = { logLevels: { completed: 'log', skippedTickDone: 'verbose' } } as const;
    const first = await bootWith(LOCKED_CRON, [Jobs], { store, logger, lock });
    const second = await bootWith(LOCKED_CRON, [Jobs], { store, logger, lock });
    forget(logger);
    await first.get(SchedulerRegistry).getCronJob('fine').fireOnTick();
    await second.get(SchedulerRegistry).getCronJob('fine').fireOnTick();

    const lines = jobLines(logger).filter((line) => line.context === 'CronLock');
    expect(lines.map((line) => [line.level, line.message.split(' @ ')[0]])).toEqual([
      ['log', 'fine'],
      ['verbose', 'fine'],
    ]);
    expect(lines[1].message).toContain('this occurrence already ran');
  });

  it.each([{ completed: 'loud' }, { finished: 'log' }, 'debug'])(
    'rejects logLevels %j at bootstrap naming the option',
    async (logLevels) => {
      const error = await bootWith(LOCKED_CRON, [jobsWith(LOCKED_CRON)], {
        lock: { logLevels: logLevels as never },
      }).catch((caught: unknown) => caught as Error);
      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toContain('option logLevels');
    },
  );
});
