// The missed-success alert of a job on an irregular schedule ('0 9 * * 1-5') counts the
// schedule's own occurrences, whatever the day the app started: a weekend is not "missed", and
// three missed weekdays are three. Only the clock is faked (timers and promises stay real), and
// each occurrence is fired by hand, so the days go by in milliseconds.
import { Injectable } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type CronLockAlert,
} from 'nestjs-cron-lock';

/** Whether the job's next runs fail: set per test. */
let failing = false;

@Injectable()
class WeekdayReport {
  @LockedCron('0 9 * * 1-5', { name: 'weekday-report', timeZone: 'UTC', ttl: '1m' })
  async report(): Promise<void> {
    if (failing) {
      throw new Error('report failed');
    }
  }
}

/** 09:00:01 UTC on 2030-01-`day` (2030-01-07 is a Monday). */
const nineOn = (day: number): number => Date.UTC(2030, 0, day, 9, 0, 1);

const booted: TestingModule[] = [];

afterEach(async () => {
  vi.useRealTimers();
  failing = false;
  await Promise.all(booted.splice(0).map((ref) => ref.close()));
});

/** Boots the app with the clock at 10:00 UTC on 2030-01-`day`; returns its alerts and a tick. */
async function bootOn(
  day: number,
  missedPeriods: number,
): Promise<{ alerts: CronLockAlert[]; tickAt: (at: number) => Promise<void> }> {
  const ref = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      // The store follows the process clock: a Redis server would refuse occurrences in 2030.
      CronLockModule.forRoot({
        logger: false,
        store: new MemoryLockStore(),
        alerts: { missedPeriods },
      }),
    ],
    providers: [WeekdayReport],
  }).compile();
  booted.push(ref);
  vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2030, 0, day, 10, 0, 0) });
  await ref.init();
  const locks = ref.get(CronLockService);
  const alerts: CronLockAlert[] = [];
  locks.on('alert', (alert) => alerts.push(alert));
  const settled: string[] = [];
  locks.on('completed', () => settled.push('completed'));
  locks.on('failed', () => settled.push('failed'));
  const tickAt = async (at: number): Promise<void> => {
    vi.setSystemTime(at);
    const before = settled.length;
    await ref.get(SchedulerRegistry).getCronJob('weekday-report').fireOnTick();
    // The tick ran the job (this instance is alone): its outcome is recorded before the next day.
    expect(settled.length).toBe(before + 1);
  };
  return { alerts, tickAt };
}

describe('missed-success alert on a weekday schedule', () => {
  it.each([8, 9])(
    'raises no alert on Monday after a successful Friday (app started 2030-01-%i, threshold 2)',
    async (day) => {
      const { alerts, tickAt } = await bootOn(day, 2);
      await tickAt(nineOn(10)); // Thursday
      await tickAt(nineOn(11)); // Friday
      await tickAt(nineOn(14)); // Monday: no weekday occurrence went by without a success

      expect(alerts).toEqual([]);
    },
  );

  it('alerts after three failed weekdays (app started on a Thursday, threshold 3)', async () => {
    const { alerts, tickAt } = await bootOn(10, 3);
    await tickAt(nineOn(11)); // Friday
    await tickAt(nineOn(14)); // Monday: the last success
    failing = true;
    await tickAt(nineOn(15)); // Tuesday
    await tickAt(nineOn(16)); // Wednesday
    await tickAt(nineOn(17)); // Thursday
    expect(alerts).toEqual([]);

    await tickAt(nineOn(18)); // Friday: Tuesday, Wednesday and Thursday went by without a success

    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      kind: 'missed-success',
      name: 'weekday-report',
      missedPeriods: 3,
      threshold: 3,
      scheduledAt: new Date(Date.UTC(2030, 0, 18, 9, 0, 0)),
    });
    const alert = alerts[0];
    expect(alert.kind === 'missed-success' && alert.lastSuccessAt?.getTime()).toBeGreaterThan(
      Date.UTC(2030, 0, 14, 9, 0, 0),
    );
  });
});
