import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type CronLockEvents,
  type CronLockModuleOptions,
  type LockContext,
} from 'nestjs-cron-lock';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

const open: TestingModule[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((ref) => ref.close()));
  vi.restoreAllMocks();
});

/** Boots an app with its own CronLockModule on the test Redis. */
async function bootLocks(options: CronLockModuleOptions = {}): Promise<CronLockService> {
  const ref = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({
        redis: testRedisUrl(),
        keyPrefix: uniquePrefix('occurrence'),
        logger: false,
        ...options,
      }),
    ],
  }).compile();
  open.push(ref);
  await ref.init();
  return ref.get(CronLockService);
}

describe('CronLockService.run with scheduledAt out of bounds', () => {
  it.each([
    ['Infinity', Infinity],
    ['NaN', Number.NaN],
    ['a fraction of a ms', Date.UTC(2025, 0, 15, 10) + 0.5],
    ['a negative number', -1],
    ['a string', '2025-01-15T10:00:00Z'],
    ['an invalid Date', new Date('not a date')],
    // A whole number of ms that no Date can hold (the last Date is 8.64e15 ms since epoch): the
    // store refused it, and reporting that refusal threw a bare RangeError out of run().
    ['a number past the last Date', 8.64e15 + 1],
  ])('rejects %s with CronLockConfigError, without running', async (_label, scheduledAt) => {
    const locks = await bootLocks();
    let ran = false;
    await expect(
      locks.run('job', { scheduledAt: scheduledAt as number }, () => {
        ran = true;
      }),
    ).rejects.toBeInstanceOf(CronLockConfigError);
    expect(ran).toBe(false);
  });

  it.each([['skip' as const], ['run' as const]])(
    'with onStoreError %s, a scheduledAt far ahead of Redis is refused, runs nowhere and claims nothing',
    async (onStoreError) => {
      const locks = await bootLocks({ onStoreError });
      let runs = 0;
      // A µs timestamp passed as ms: year 50,000 and more.
      const refused = await locks.run('job', { scheduledAt: Date.now() * 1_000 }, () => {
        runs++;
      });
      expect(refused).toEqual({ ran: false, reason: 'store-error' });
      expect(runs).toBe(0);
      expect((await locks.inspect('job')).lastTick).toBeNull();

      const now = Date.now();
      expect(await locks.run('job', { scheduledAt: now }, () => runs++)).toMatchObject({
        ran: true,
      });
      expect(runs).toBe(1);
      expect((await locks.inspect('job')).lastTick?.getTime()).toBe(now);
    },
  );
});

/** Runs of the zoned job, from every app of the running test: instance and occurrence. */
const parisRuns: Array<{ instanceId: string; scheduledAt: number; ranAt: number }> = [];

@Injectable()
class ParisNightly {
  @LockedCron('30 2 * * *', { ttl: '5s', name: 'paris-nightly', timeZone: 'Europe/Paris' })
  async run(ctx: LockContext): Promise<void> {
    parisRuns.push({
      instanceId: ctx.instanceId,
      scheduledAt: ctx.scheduledAt.getTime(),
      ranAt: Date.now(),
    });
  }
}

/**
 * Sets this process's wall clock (`Date.now()`, which `cron`, luxon and the module read) to
 * `at`, from where it runs on in real time: as a host whose clock reads that date. Timers keep
 * real time, so the scheduler really waits for the tick.
 */
function setWallClock(at: number): void {
  const realNow = Date.now.bind(Date);
  const shift = at - realNow();
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + shift);
}

describe('a zoned job across the daylight-saving fall-back, on two instances', () => {
  it('runs the repeated local time once when an instance starts inside the repeated hour', async () => {
    parisRuns.length = 0;
    const keyPrefix = uniquePrefix('dst');
    const boot = async (instanceId: string) => {
      const ref = await Test.createTestingModule({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({ redis: testRedisUrl(), keyPrefix, instanceId, logger: false }),
        ],
        providers: [ParisNightly],
      }).compile();
      open.push(ref);
      const skipped: Array<CronLockEvents['skipped']> = [];
      ref.get(CronLockService).on('skipped', (event) => skipped.push(event));
      await ref.init();
      return { ref, skipped };
    };

    // Europe/Paris falls back on 2025-10-26 at 03:00 CEST to 02:00 CET: 02:30 happens at
    // 00:30Z and again at 01:30Z. Instance A runs from before the change and fires at 00:30Z.
    setWallClock(Date.UTC(2025, 9, 26, 0, 29, 58));
    await boot('instance-a');
    await waitFor(() => parisRuns.length === 1, { timeout: 20_000, message: 'the 00:30Z run' });
    expect(parisRuns[0]).toMatchObject({
      instanceId: 'instance-a',
      scheduledAt: Date.UTC(2025, 9, 26, 0, 30),
    });

    // Instance B starts at 02:29:58 CET, in the second pass of the hour: `cron` fires it at
    // 02:30 CET (01:30Z), the same wall-clock time as the run above.
    vi.restoreAllMocks();
    setWallClock(Date.UTC(2025, 9, 26, 1, 29, 58));
    const b = await boot('instance-b');
    await waitFor(() => b.skipped.length > 0 || parisRuns.length > 1, {
      timeout: 20_000,
      message: "instance B's tick at 01:30Z",
    });
    expect(parisRuns).toHaveLength(1);
    expect(b.skipped).toEqual([
      expect.objectContaining({
        name: 'paris-nightly',
        reason: 'tick-done',
        scheduledAt: new Date(Date.UTC(2025, 9, 26, 0, 30)),
      }),
    ]);
  });
});

/** Occurrences run by the hourly zoned job, from every app of the running test. */
const parisHourlyRuns: number[] = [];

@Injectable()
class ParisHourly {
  @LockedCron('0 * * * *', { ttl: '5s', name: 'paris-hourly', timeZone: 'Europe/Paris' })
  run(ctx: LockContext): void {
    parisHourlyRuns.push(ctx.scheduledAt.getTime());
  }
}

describe('occurrences missed across the daylight-saving fall-back, on two instances', () => {
  it.each([['Redis' as const], ['the memory store' as const]])(
    'reports the repeated local hour once, in events and history (%s)',
    async (storeName) => {
      parisHourlyRuns.length = 0;
      const store =
        storeName === 'Redis'
          ? { redis: testRedisUrl(), keyPrefix: uniquePrefix('dst-missed') }
          : { store: new MemoryLockStore() };
      const boot = async (instanceId: string, providers: Array<new () => unknown>) => {
        const ref = await Test.createTestingModule({
          imports: [
            ScheduleModule.forRoot(),
            CronLockModule.forRoot({ ...store, instanceId, logger: false }),
          ],
          providers,
        }).compile();
        open.push(ref);
        const locks = ref.get(CronLockService);
        const missed: Array<CronLockEvents['missed']> = [];
        locks.on('missed', (event) => missed.push(event));
        await ref.init();
        return { locks, missed };
      };

      // Europe/Paris falls back on 2025-10-26 at 03:00 CEST to 02:00 CET. The job last ran at
      // 01:00 CEST (23:00Z the day before); the fleet was down until just before 04:00 CET.
      // Missed since then: 02:00 (00:00Z, and its repeat at 01:00Z is the same occurrence) and
      // 03:00 CET (02:00Z).
      setWallClock(Date.UTC(2025, 9, 26, 2, 59, 54));
      const seed = await boot('seed', []);
      await seed.locks.run('paris-hourly', { scheduledAt: Date.UTC(2025, 9, 25, 23) }, () => 0);
      const a = await boot('instance-a', [ParisHourly]);
      const b = await boot('instance-b', [ParisHourly]);

      // The 04:00 CET tick (03:00Z): one instance claims it and reports the gap.
      await waitFor(() => parisHourlyRuns.length > 0, {
        timeout: 20_000,
        message: 'the 03:00Z run',
      });
      const runEntry = async () =>
        (await a.locks.history('paris-hourly')).some(
          (entry) =>
            entry.kind === 'run' && entry.scheduledAt?.getTime() === Date.UTC(2025, 9, 26, 3),
        );
      // The run's release writes its missed entries, after its missed events were emitted.
      await waitFor(runEntry, { timeout: 20_000, message: "the 03:00Z run's history entry" });

      const expected = [Date.UTC(2025, 9, 26, 0), Date.UTC(2025, 9, 26, 2)];
      expect(parisHourlyRuns).toEqual([Date.UTC(2025, 9, 26, 3)]);
      const events = [...a.missed, ...b.missed].map((event) => event.scheduledAt.getTime());
      expect(events).toEqual(expected);
      const history = await b.locks.history('paris-hourly');
      const missedEntries = history
        .filter((entry) => entry.kind === 'missed')
        .map((entry) => entry.scheduledAt?.getTime());
      // Newest first.
      expect(missedEntries).toEqual([...expected].reverse());
    },
  );
});
