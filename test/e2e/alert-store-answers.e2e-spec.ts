// A custom store's acquire() answers the last success time the missed-success alert counts from.
// A value that is no time at all (NaN, out of a Date's range, before the epoch) is store trouble:
// logged once and skipped, never a RangeError out of the run that left its lock held.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type AcquireRequest,
  type AcquireResult,
  type CronLockAlert,
} from 'nestjs-cron-lock';
import { runLockedJob } from 'nestjs-cron-lock/testing';
import { CapturingLogger } from '../support/capturing-logger.js';

const JOB = 'hourly-report';
const HOUR = 3_600_000;

@Injectable()
class HourlyReport {
  // Fails every time: a missed-success alert has something to count.
  @LockedCron('0 * * * *', { name: JOB })
  async report(): Promise<void> {
    throw new Error('report failed');
  }
}

/** A store that records like the memory store but answers `lastSuccessAt` as told. */
class GarbledSuccessStore extends MemoryLockStore {
  constructor(private readonly lastSuccessAt: unknown) {
    super();
  }

  override async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const answer = await super.acquire(request);
    return { ...answer, lastSuccessAt: this.lastSuccessAt as number };
  }
}

describe('a custom store that answers a lastSuccessAt that is no time', () => {
  let app: TestingModule | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    process.off('unhandledRejection', onUnhandled);
  });

  const values: Array<[string, unknown]> = [
    ['past what a Date holds (-1e20)', -1e20],
    ['past what a Date holds (1e20)', 1e20],
    ['NaN', Number.NaN],
    ['before the epoch (-1)', -1],
  ];

  it.each(values)(
    'runs and releases every occurrence, logs the value once as store trouble, raises no alert: %s',
    async (_what, lastSuccessAt) => {
      const logger = new CapturingLogger();
      app = await Test.createTestingModule({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({
            store: new GarbledSuccessStore(lastSuccessAt),
            logger,
            alerts: { missedPeriods: 1 },
          }),
        ],
        providers: [HourlyReport],
      }).compile();
      await app.init();
      const alerts: CronLockAlert[] = [];
      app.get(CronLockService).on('alert', (alert) => alerts.push(alert));

      const first = Date.UTC(2025, 0, 15, 10);
      const outcomes: unknown[] = [];
      for (let i = 0; i < 4; i++) {
        outcomes.push(
          await runLockedJob(app, JOB, { scheduledAt: first + i * HOUR }).then(
            (result) => result,
            (error: unknown) => String(error),
          ),
        );
      }

      // Each occurrence ran the job (which failed as written) and released its lock: none was
      // skipped as held by a run that never started.
      expect(outcomes).toEqual(Array(4).fill('Error: report failed'));
      const trouble = logger.lines.filter(
        (line) => line.level === 'warn' && line.message.includes('lastSuccessAt'),
      );
      expect(trouble).toHaveLength(1);
      expect(trouble[0].message).toContain(`"${JOB}"`);
      expect(trouble[0].message).toContain(String(lastSuccessAt));
      expect(trouble[0].message).toContain('Fix:');
      // A success time the store cannot give is not taken as "never succeeded" either.
      expect(alerts).toEqual([]);
      expect(logger.alertLines()).toEqual([]);
      expect(unhandled).toEqual([]);
    },
  );
});
