// The switching guide's fake-timer recipe for a @LockedCron job on Redis, checked against a real
// redis-server with @Cron and @LockedCron side by side in one app. The fake clock moves a whole
// period in one real macrotask, while the lock's acquisition and release take real round trips:
// a tick that fires before the previous run's release was answered finds the lock held. So the
// recipe advances one period at a time and waits, on the events, for each run's release; its
// close() recipe waits for the run to start (acquired) before closing.
import { Injectable, type Type } from '@nestjs/common';
import { Cron, CronExpression, ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CronLockModule, CronLockService, LockedCron } from 'nestjs-cron-lock';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';

/** Taken before any test fakes the timers: the bound on a wait that would otherwise hang. */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

@Injectable()
class EverySecond {
  cronCalls = 0;
  lockedCalls = 0;

  @Cron(CronExpression.EVERY_SECOND, { name: 'every-second-plain' })
  plain(): void {
    this.cronCalls += 1;
  }

  @LockedCron(CronExpression.EVERY_SECOND, { name: 'every-second-locked' })
  locked(): void {
    this.lockedCalls += 1;
  }
}

/** `promise`, or a rejection naming `what` once `ms` of real time passed without it settling. */
async function within<T>(
  promise: Promise<T>,
  what: string | (() => string),
  ms = 10_000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = realSetTimeout(() => {
      const text = typeof what === 'string' ? what : what();
      reject(new Error(`${text} did not happen in ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    realClearTimeout(timer);
  }
}

/** The seconds of an occurrence, e.g. `:07`, to read the events by. */
const second = (at: Date | null): string => `:${String(at?.getUTCSeconds()).padStart(2, '0')}`;

let ref: TestingModule | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await ref?.close();
  ref = undefined;
});

/** A locked job every second that waits 5 s on the clock, alone in its app. */
@Injectable()
class Slow {
  done = 0;

  @LockedCron(CronExpression.EVERY_SECOND, { name: 'slow-locked' })
  async work(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    this.done += 1;
  }
}

/**
 * Boots an app of `jobs` (one locked job) under fake timers whose clock starts half a second past
 * the current second of the real one: the Redis store refuses an occurrence more than 15 minutes
 * ahead of its own clock. `events`: the locked job's, as `event :ss reason`.
 */
async function boot<T>(
  jobs: Type<T>,
): Promise<{ jobs: T; locks: CronLockService; events: string[] }> {
  vi.useFakeTimers({ now: Math.floor(Date.now() / 1_000) * 1_000 + 500 });
  ref = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({
        redis: testRedisUrl(),
        keyPrefix: uniquePrefix('fake-timers'),
        logger: false,
      }),
    ],
    providers: [jobs],
  }).compile();
  const locks = ref.get(CronLockService);
  const events: string[] = [];
  locks.onAny(({ event, payload }) => {
    const reason = 'reason' in payload ? ` ${String(payload.reason)}` : '';
    events.push(`${event} ${second(payload.scheduledAt)}${reason}`);
  });
  await ref.init();
  return { jobs: ref.get(jobs), locks, events };
}

/** The next `event` (`released`, `acquired`) of the locked job; a skip rejects, with its reason. */
function next(locks: CronLockService, event: 'released' | 'acquired'): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stop = (): void => offs.forEach((off) => off());
    const offs = [
      locks.on(event, () => {
        stop();
        resolve();
      }),
      locks.on('skipped', ({ reason }) => {
        stop();
        reject(new Error(`the tick was skipped (${reason})`));
      }),
    ];
  });
}

/** Resolves once every line of `lines` is among `events`, polled on the real clock. */
async function seen(events: string[], lines: string[]): Promise<void> {
  let givenUp = false;
  const all = async (): Promise<void> => {
    while (!givenUp && !lines.every((line) => events.includes(line))) {
      await new Promise((resolve) => realSetTimeout(resolve, 10));
    }
  };
  try {
    await within(all(), () => `the events ${lines.join(', ')} (seen: ${events.join(', ')})`);
  } finally {
    givenUp = true;
  }
}

describe('fake timers on the Redis store, @Cron and @LockedCron side by side', () => {
  it('runs an every-second job once per period when the test advances one period at a time and awaits each release', async () => {
    const { jobs, locks, events } = await boot(EverySecond);
    const seconds: string[] = [];

    for (let period = 1; period <= 3; period++) {
      const released = next(locks, 'released');
      await vi.advanceTimersByTimeAsync(1_000);
      seconds.push(second(new Date(Date.now() - 500)));
      await within(released, `the release of period ${period}`);
      expect({ cron: jobs.cronCalls, locked: jobs.lockedCalls }).toEqual({
        cron: period,
        locked: period,
      });
    }

    expect(events).toEqual(
      seconds.flatMap((at) => [`acquired ${at}`, `completed ${at}`, `released ${at}`]),
    );
  });

  it('skips as held the ticks that fire before the first run was answered, and reports them missed at the next run', async () => {
    const { jobs, locks, events } = await boot(EverySecond);
    const first = second(new Date(Date.now() + 500));
    const later = [1, 2].map((s) => second(new Date(Date.now() + 500 + s * 1_000)));

    // Three ticks in one go: their acquisitions are written together, in order, on one
    // connection, so the second and third reach Redis while the first run holds the lock.
    vi.advanceTimersByTime(3_000);
    expect(jobs.cronCalls).toBe(3);
    expect(jobs.lockedCalls).toBe(0);
    await seen(events, [`released ${first}`, ...later.map((at) => `skipped ${at} held`)]);
    expect(jobs.lockedCalls).toBe(1);
    expect(events.filter((line) => line.startsWith('acquired'))).toEqual([`acquired ${first}`]);

    // The next run claims its occurrence past the held ones: it reports them missed, as held.
    const fourth = next(locks, 'released');
    await vi.advanceTimersByTimeAsync(1_000);
    await within(fourth, 'the release of the fourth run');
    expect(jobs).toMatchObject({ cronCalls: 4, lockedCalls: 2 });
    expect(events).toEqual(expect.arrayContaining(later.map((at) => `missed ${at} held`)));
  });

  it("returns from close() once the test advances the clock past a run that started: the guide's close() recipe, after the acquired event", async () => {
    const { jobs, locks, events } = await boot(Slow);

    // The tick's acquisition answered before the advance below: the run's 5 s timer is armed
    // at the clock's time now, inside the range that advance covers.
    const started = next(locks, 'acquired');
    await vi.advanceTimersByTimeAsync(1_000);
    await within(started, 'the start of the run');

    const closing = ref!.close();
    ref = undefined;
    await vi.advanceTimersByTimeAsync(5_000);
    await within(closing, 'close()');
    expect(jobs.done).toBe(1);
    expect(events.filter((line) => !line.startsWith('skipped'))).toEqual([
      expect.stringMatching(/^acquired /),
      expect.stringMatching(/^completed /),
      expect.stringMatching(/^released /),
    ]);
  });
});
