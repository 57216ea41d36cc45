// Catch-up of missed occurrences, missed-occurrence reports, and the overlap policies, with
// several Nest apps in one process sharing one real redis-server (and one PostgreSQL database).
import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  LockedCron,
  MemoryLockStore,
  ReplacedError,
  type CronLockEvents,
  type CronLockModuleOptions,
  type LockContext,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { CronApps } from '../support/cron-apps.js';
import { EventLoopStalls } from '../support/event-loop-stalls.js';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import {
  duplicateOccurrences,
  overlappingRuns,
  recordJobRun,
  untilAborted,
  type JobRun,
} from '../support/run-log.js';

const PERIOD = 3_000;
/** Runs of every job of the test in progress, from every app. */
const runs: JobRun[] = [];

@Injectable()
class RecordedJob {
  @LockedCron('*/3 * * * * *', { ttl: '10s', name: 'recorded' })
  async run(ctx: LockContext): Promise<void> {
    await recordJobRun(runs, 'recorded', ctx, () => sleep(5));
  }
}

@Injectable()
class CatchUpLatestJob {
  @LockedCron('*/3 * * * * *', { ttl: '10s', name: 'latest', catchUp: 'latest' })
  async run(ctx: LockContext): Promise<void> {
    await recordJobRun(runs, 'latest', ctx, () => sleep(5));
  }
}

@Injectable()
class CatchUpAllJob {
  @LockedCron('*/3 * * * * *', { ttl: '10s', name: 'all', catchUp: 'all', catchUpWindow: '1h' })
  async run(ctx: LockContext): Promise<void> {
    await recordJobRun(runs, 'all', ctx, () => sleep(5));
  }
}

/** Keeps its lock 800 ms after each run starts (`minHold`), much longer than the run. */
@Injectable()
class CatchUpAllHoldJob {
  @LockedCron('*/3 * * * * *', {
    ttl: '10s',
    name: 'all-hold',
    catchUp: 'all',
    catchUpWindow: '1h',
    minHold: '800ms',
  })
  async run(ctx: LockContext): Promise<void> {
    await recordJobRun(runs, 'all-hold', ctx, () => sleep(5));
  }
}

/** Takes 1.5 periods of its per-second schedule. */
@Injectable()
class QueueJob {
  @LockedCron('* * * * * *', { ttl: '5s', name: 'queue', overlap: 'queue' })
  async run(ctx: LockContext): Promise<void> {
    await recordJobRun(runs, 'queue', ctx, () => sleep(1_500));
  }
}

/** Takes 1.5 periods of its per-second schedule, and skips what overlaps (the default). */
@Injectable()
class SkipJob {
  @LockedCron('* * * * * *', { ttl: '5s', name: 'skip' })
  async run(ctx: LockContext): Promise<void> {
    await recordJobRun(runs, 'skip', ctx, () => sleep(1_500));
  }
}

/** Runs until told to stop, at most 8 s; renews every 500 ms. */
@Injectable()
class ReplaceJob {
  @LockedCron('*/2 * * * * *', { ttl: '1500ms', name: 'replace', overlap: 'replace' })
  async run(ctx: LockContext): Promise<void> {
    await recordJobRun(runs, 'replace', ctx, () => untilAborted(ctx, 8_000));
  }
}

/** Events of every app of the test in progress (apps close before the assertions). */
const missed: Array<CronLockEvents['missed']> = [];
const skipped: Array<CronLockEvents['skipped']> = [];

const runsOf = (job: string) => runs.filter((run) => run.job === job);
const missedAt = (): number[] => missed.map((event) => event.scheduledAt.getTime()).sort();

function range(from: number, before: number, step = PERIOD): number[] {
  const list: number[] = [];
  for (let at = from; at < before; at += step) list.push(at);
  return list;
}

type StoreOptions = () => Partial<CronLockModuleOptions>;

describe('catch-up, missed occurrences and overlap policies across apps sharing one store', () => {
  const apps = new CronApps();
  const cleanup: Array<() => Promise<unknown>> = [];

  afterEach(async () => {
    await apps.closeAll();
    for (const undo of cleanup.splice(0).reverse()) {
      await undo().catch(() => undefined);
    }
    runs.length = 0;
    missed.length = 0;
    skipped.length = 0;
  });

  async function boot(
    instanceId: string,
    job: new () => unknown,
    store: StoreOptions,
  ): Promise<void> {
    const options = { instanceId, logger: false, ...store() } as CronLockModuleOptions;
    await apps.boot(options, [job], (locks) => {
      locks.on('missed', (event) => missed.push(event));
      locks.on('skipped', (event) => skipped.push(event));
    });
  }

  const bootAll = (ids: string[], job: new () => unknown, store: StoreOptions): Promise<void[]> =>
    Promise.all(ids.map((id) => boot(id, job, store)));

  /**
   * Runs `job` on three apps until one occurrence ran, stops them all, waits while `missing`
   * occurrences pass with no app up, and restarts three apps at once, early in a period (so
   * that the next regular tick is well after the restart). Returns the occurrence that ran last
   * before the stop, and the latest one due at the restart.
   */
  async function stopAcross(
    job: new () => unknown,
    name: string,
    missing: number,
    store: StoreOptions,
  ): Promise<{ last: number; latest: number }> {
    await bootAll(['app-1', 'app-2', 'app-3'], job, store);
    await waitFor(() => runsOf(name).length >= 1, { timeout: 15_000, message: 'a first run' });
    await apps.closeAll();
    const last = Math.max(...runsOf(name).map((run) => run.scheduledAt));
    const restartFrom = last + missing * PERIOD + 200;
    await waitFor(() => Date.now() >= restartFrom, {
      timeout: (missing + 2) * PERIOD,
      interval: 50,
      message: `${missing} occurrences to pass with every app stopped`,
    });
    const latest = Math.floor(Date.now() / PERIOD) * PERIOD;
    await bootAll(['app-4', 'app-5', 'app-6'], job, store);
    return { last, latest };
  }

  /** Waits for a regular run after `after`, then stops every app. */
  async function regularRunAfter(name: string, after: number): Promise<void> {
    await waitFor(() => runsOf(name).some((run) => run.scheduledAt > after), {
      timeout: 15_000,
      message: 'a regular run after the restart',
    });
    await apps.closeAll();
  }

  const redis = (label: string): StoreOptions => {
    const keyPrefix = uniquePrefix(label);
    return () => ({ redis: testRedisUrl(), keyPrefix });
  };
  /** `[store label, store]` rows for `it.each`: a Redis prefix of its own, and one memory store. */
  const redisAndMemory = (label: string): Array<[string, () => StoreOptions]> => [
    ['Redis', () => redis(label)],
    [
      'the memory store',
      () => {
        const store = new MemoryLockStore();
        return () => ({ store });
      },
    ],
  ];

  it('reports each occurrence that ran nowhere once, fleet-wide, and runs none without catchUp', async () => {
    const { last, latest } = await stopAcross(RecordedJob, 'recorded', 2, redis('missed'));
    await regularRunAfter('recorded', last);
    const next = Math.min(
      ...runsOf('recorded')
        .filter((run) => run.scheduledAt > last)
        .map((run) => run.scheduledAt),
    );
    expect(next).toBeGreaterThan(latest);
    expect(missedAt()).toEqual(range(last + PERIOD, next));
    expect(missed.every((event) => event.name === 'recorded' && event.reason === null)).toBe(true);
    expect(runsOf('recorded').every((run) => run.trigger === 'schedule')).toBe(true);
    expect(duplicateOccurrences(runsOf('recorded'))).toEqual([]);
  }, 60_000);

  it("catchUp 'latest' runs the most recent missed occurrence once, and reports the older ones", async () => {
    const { last, latest } = await stopAcross(CatchUpLatestJob, 'latest', 2, redis('latest'));
    await regularRunAfter('latest', latest);
    const catchUps = runsOf('latest').filter((run) => run.trigger === 'catch-up');
    expect(catchUps.map((run) => run.scheduledAt)).toEqual([latest]);
    expect(missedAt()).toEqual(range(last + PERIOD, latest));
    expect(missed.every((event) => event.reason === 'superseded')).toBe(true);
    expect(duplicateOccurrences(runsOf('latest'))).toEqual([]);
  }, 60_000);

  it("catchUp 'all' runs every missed occurrence once, oldest first, when three apps restart together", async () => {
    const { last, latest } = await stopAcross(CatchUpAllJob, 'all', 2, redis('all'));
    await regularRunAfter('all', latest);
    const catchUps = runsOf('all').filter((run) => run.trigger === 'catch-up');
    expect(catchUps.map((run) => run.scheduledAt)).toEqual(range(last + PERIOD, latest + 1));
    expect(catchUps.map((run) => run.start)).toEqual([...catchUps.map((run) => run.start)].sort());
    expect(missed).toEqual([]);
    expect(duplicateOccurrences(runsOf('all'))).toEqual([]);
    expect(overlappingRuns(runsOf('all'))).toEqual([]);
  }, 60_000);

  it("catchUp 'all' on PostgreSQL: every missed occurrence once, oldest first", async () => {
    const pool: pg.Pool = newPool();
    const table = uniqueTable('catchup');
    cleanup.push(() => pool.end());
    cleanup.push(() => dropTable(pool, table));
    const store = (): Partial<CronLockModuleOptions> => ({
      store: new PostgresLockStore(pool, { table, logger: false }),
    });
    const { last, latest } = await stopAcross(CatchUpAllJob, 'all', 2, store);
    await regularRunAfter('all', latest);
    const catchUps = runsOf('all').filter((run) => run.trigger === 'catch-up');
    expect(catchUps.map((run) => run.scheduledAt)).toEqual(range(last + PERIOD, latest + 1));
    expect(duplicateOccurrences(runsOf('all'))).toEqual([]);
  }, 60_000);

  it.each(redisAndMemory('all-hold'))(
    "catchUp 'all' with minHold runs every missed occurrence once, not only the first (%s)",
    async (_label, storeOf) => {
      // Each catch-up run keeps the lock for minHold after it ends: the next claim must wait for
      // that hold, not give up as if another instance were running the job.
      const { last, latest } = await stopAcross(CatchUpAllHoldJob, 'all-hold', 2, storeOf());
      await regularRunAfter('all-hold', latest);
      const catchUps = runsOf('all-hold').filter((run) => run.trigger === 'catch-up');
      expect(catchUps.map((run) => run.scheduledAt)).toEqual(range(last + PERIOD, latest + 1));
      expect(missed).toEqual([]);
      expect(duplicateOccurrences(runsOf('all-hold'))).toEqual([]);
      expect(overlappingRuns(runsOf('all-hold'))).toEqual([]);
    },
    60_000,
  );

  it("catchUp 'all' runs the newest 100 missed occurrences at once, oldest first, and reports the older ones missed", async () => {
    const store = new MemoryLockStore();
    const control = await apps.boot({ instanceId: 'control', logger: false, store }, []);
    // The job last ran 150 periods ago, well inside its one-hour window.
    const latest = Math.floor(Date.now() / PERIOD) * PERIOD;
    const last = latest - 150 * PERIOD;
    await control.run('all', { scheduledAt: last }, () => undefined);
    await boot('app-1', CatchUpAllJob, () => ({ store }));
    const catchUps = (): JobRun[] => runsOf('all').filter((run) => run.trigger === 'catch-up');
    await waitFor(() => catchUps().length >= 100, { timeout: 30_000, message: '100 catch-ups' });
    await apps.closeAll();
    // A tick due meanwhile may be caught up after them: the first 100 are the cap's.
    const capped = catchUps()
      .slice(0, 100)
      .map((run) => run.scheduledAt);
    const first = capped[0]!;
    expect(capped).toEqual(range(first, first + 100 * PERIOD));
    expect(first + 99 * PERIOD).toBeGreaterThanOrEqual(latest);
    // The older ones past the cap are reported once each, and never run.
    expect(missedAt()).toEqual(range(last + PERIOD, first));
    expect(missed.length).toBeGreaterThanOrEqual(50);
    expect(runsOf('all').every((run) => run.scheduledAt >= first)).toBe(true);
    expect(duplicateOccurrences(runsOf('all'))).toEqual([]);
  }, 60_000);

  it.each(redisAndMemory('all-paused'))(
    "catchUp 'all' at a restart while paused records every missed occurrence as paused, and runs none after the resume (%s)",
    async (_label, storeOf) => {
      const store = storeOf();
      const control = await apps.boot({ instanceId: 'control', logger: false, ...store() }, []);
      // The job last ran three periods ago, and was paused while no app ran it.
      const latest = Math.floor(Date.now() / PERIOD) * PERIOD;
      const last = latest - 3 * PERIOD;
      await control.run('all', { scheduledAt: last }, () => undefined);
      await control.pause('all');
      await bootAll(['app-1', 'app-2'], CatchUpAllJob, store);
      const paused = async (): Promise<number[]> =>
        (await control.history('all'))
          .filter((entry) => entry.kind === 'paused')
          .map((entry) => entry.scheduledAt!.getTime())
          .sort((a, b) => a - b);
      // The first tick after the restart is skipped as paused too.
      await waitFor(async () => (await paused()).some((at) => at > latest), {
        timeout: 15_000,
        message: 'a tick skipped while paused',
      });
      const tick = Math.max(...(await paused()));
      expect(await paused()).toEqual(range(last + PERIOD, tick + 1));
      expect(runsOf('all')).toEqual([]);

      await control.resume('all');
      await waitFor(() => runsOf('all').length > 0, { timeout: 15_000, message: 'a run' });
      await apps.closeAll();
      // Skipped while paused counts as done: nothing of the paused window is caught up.
      expect(
        runsOf('all').every((run) => run.trigger === 'schedule' && run.scheduledAt > tick),
      ).toBe(true);
      expect(missed).toEqual([]);
    },
    60_000,
  );

  it("reports an occurrence skipped as held everywhere as missed, with the reason 'held'", async () => {
    await bootAll(['app-1', 'app-2'], SkipJob, redis('skip'));
    await waitFor(() => missed.length >= 1 && runsOf('skip').length >= 3, {
      timeout: 20_000,
      message: 'a missed report',
    });
    await apps.closeAll();
    const ran = new Set(runsOf('skip').map((run) => run.scheduledAt));
    for (const event of missed) {
      expect(ran.has(event.scheduledAt.getTime())).toBe(false);
      expect(event.reason).toBe('held');
      expect(
        skipped.some(
          (e) => e.reason === 'held' && e.scheduledAt?.getTime() === event.scheduledAt.getTime(),
        ),
      ).toBe(true);
    }
    expect(new Set(missedAt()).size).toBe(missed.length);
    expect(overlappingRuns(runsOf('skip'))).toEqual([]);
  }, 60_000);

  it("overlap 'queue': a job longer than its period runs each occurrence once or merges it, never overlapping", async () => {
    const store = redis('queue');
    const stalls = new EventLoopStalls();
    cleanup.push(async () => stalls.stop());
    await bootAll(['app-1', 'app-2'], QueueJob, store);
    await waitFor(() => runsOf('queue').length >= 4, { timeout: 20_000, message: 'four runs' });
    await apps.closeAll();
    stalls.stop();
    const ran = runsOf('queue');
    expect(duplicateOccurrences(ran)).toEqual([]);
    expect(overlappingRuns(ran)).toEqual([]);
    // Runs follow each other: each next run is the occurrence queued while the one before it ran
    // (due before that run ended), started once it released; never a later occurrence first,
    // nor one whose tick came after the release. Order, not time: a stall cannot break it.
    const sorted = [...ran].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      expect(sorted[i].scheduledAt).toBeGreaterThan(sorted[i - 1].scheduledAt);
      expect(sorted[i].scheduledAt).toBeLessThan(sorted[i - 1].end);
    }
    // Nothing lost: every occurrence ran or merged into a queued one, but for one whose whole
    // second the process stood still (a loaded machine): no app's scheduler fired it, and the
    // store reports it missed, as it should. Any app's tick for it shows as a run or a skip.
    const first = sorted[0].scheduledAt;
    const lastRun = sorted[sorted.length - 1].scheduledAt;
    const merged = new Set(
      skipped.filter((e) => e.reason === 'merged').map((e) => e.scheduledAt?.getTime()),
    );
    const ticked = new Set([
      ...ran.map((run) => run.scheduledAt),
      ...skipped.map((e) => e.scheduledAt?.getTime()),
    ]);
    const neverFired = (at: number): boolean =>
      !ticked.has(at) && stalls.stoodStill(at, at + 1_000);
    for (const at of range(first, lastRun + 1, 1_000)) {
      const ranIt = ran.some((run) => run.scheduledAt === at);
      expect(ranIt || merged.has(at) || neverFired(at), new Date(at).toISOString()).toBe(true);
    }
    expect(missed.filter((e) => e.reason !== null || !neverFired(e.scheduledAt.getTime()))).toEqual(
      [],
    );
    expect(skipped.some((e) => e.reason === 'queued')).toBe(true);
  }, 60_000);

  it("overlap 'replace': the running holder is told within a renew interval, and the next run starts after its release", async () => {
    await bootAll(['app-1', 'app-2'], ReplaceJob, redis('replace'));
    await waitFor(() => runsOf('replace').length >= 3, { timeout: 20_000, message: 'three runs' });
    await apps.closeAll();
    const ran = [...runsOf('replace')].sort((a, b) => a.start - b.start);
    expect(duplicateOccurrences(ran)).toEqual([]);
    expect(overlappingRuns(ran)).toEqual([]);
    const replaced = ran.filter((run) => run.abortedBy instanceof ReplacedError);
    expect(replaced.length).toBeGreaterThanOrEqual(2);
    for (const run of replaced) {
      // Told at the first renewal after the next occurrence (renewals every 500 ms, 2 s period).
      expect(run.end - (run.scheduledAt + 2_000)).toBeLessThan(4_000);
    }
  }, 60_000);
});
