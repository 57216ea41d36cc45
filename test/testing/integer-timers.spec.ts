// A user's tests under jsdom (Jest's `testEnvironment: 'jsdom'`) or a fake-timer library whose
// timers are numbers. There the global `setTimeout` and `setInterval` return an integer id, which
// has no `unref()`, where Node's return a Timeout object. Reproduced with Node's own timers behind
// integer ids, as jsdom's are, swapped in for each test: every path of the library that arms a
// timer must work with them, on the in-memory store, on Redis and on PostgreSQL.
import { Injectable, type ModuleMetadata } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  type CronLockModuleOptions,
  type LockContext,
  type TriggerResult,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { CronLockTestingModule, runLockedJob } from 'nestjs-cron-lock/testing';
import { CapturingLogger } from '../support/capturing-logger.js';
import { storeWithMissedOccurrences } from '../support/cron-apps.js';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';

/** Node's timers, taken before any test swaps them. */
const nodeTimers = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
};

/**
 * Swaps in global timers that behave as jsdom's: Node's underneath, an integer id to the caller,
 * cleared by that id. (A handle of Node's own, armed before the swap, is cleared as Node would.)
 */
function useIntegerTimers(): void {
  const handles = new Map<number, NodeJS.Timeout>();
  let lastId = 0;
  const arm =
    (repeat: boolean) =>
    (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): number => {
      const id = ++lastId;
      const fire = (): void => {
        if (!repeat) {
          handles.delete(id);
        }
        callback(...args);
      };
      handles.set(id, repeat ? nodeTimers.setInterval(fire, ms) : nodeTimers.setTimeout(fire, ms));
      return id;
    };
  const clear = (id: unknown): void => {
    if (typeof id !== 'number') {
      nodeTimers.clearTimeout(id as NodeJS.Timeout | undefined);
      return;
    }
    nodeTimers.clearTimeout(handles.get(id));
    handles.delete(id);
  };
  Object.assign(globalThis, {
    setTimeout: arm(false),
    clearTimeout: clear,
    setInterval: arm(true),
    clearInterval: clear,
  });
}

/** `promise`, or a rejection naming `what` once `ms` of real time passed without it settling. */
async function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = nodeTimers.setTimeout(
      () => reject(new Error(`${what} did not settle in ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    nodeTimers.clearTimeout(timer);
  }
}

/** Resolves once `check` holds, polled on Node's clock; rejects naming `what` after 10 s. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!(await check())) {
    if (performance.now() > deadline) {
      throw new Error(`${what} did not happen in 10000 ms`);
    }
    await new Promise((resolve) => nodeTimers.setTimeout(resolve, 10));
  }
}

/** What a test's app reported: its renewals, losses and releases, and its log. */
interface Seen {
  renewed: number;
  lost: string[];
  released: boolean[];
  logger: CapturingLogger;
}

const open: TestingModule[] = [];
/** What a test set up besides its app (a pool, a table), undone once the app closed. */
const cleanup: Array<() => Promise<unknown>> = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

afterEach(async () => {
  // Closed under the test's timers, as a user's afterEach closes its app.
  try {
    await Promise.all(open.splice(0).map((ref) => ref.close()));
  } finally {
    Object.assign(globalThis, nodeTimers);
    process.off('unhandledRejection', onUnhandled);
    for (const undo of cleanup.splice(0).reverse()) {
      await undo().catch(() => undefined);
    }
  }
  expect(unhandled.splice(0)).toEqual([]);
});

/**
 * Swaps in the integer timers, then boots and inits a module of `imports` and `providers`,
 * recording what its service reports into the returned {@link Seen}. `beforeInit`: called with
 * the service once compiled, before the jobs are bound.
 */
async function boot(
  imports: (logger: CapturingLogger) => ModuleMetadata['imports'],
  providers: Array<new (...args: never[]) => unknown> = [],
  beforeInit?: (locks: CronLockService) => void,
): Promise<{ ref: TestingModule; locks: CronLockService; seen: Seen }> {
  useIntegerTimers();
  process.on('unhandledRejection', onUnhandled);
  const logger = new CapturingLogger();
  const ref = await Test.createTestingModule({
    imports: imports(logger),
    providers,
  }).compile();
  open.push(ref);
  const locks = ref.get(CronLockService);
  const seen: Seen = { renewed: 0, lost: [], released: [], logger };
  locks.on('renewed', () => (seen.renewed += 1));
  locks.on('lost', (event) => seen.lost.push(event.reason));
  locks.on('released', (event) => seen.released.push(event.released));
  beforeInit?.(locks);
  await ref.init();
  return { ref, locks, seen };
}

/**
 * A `run()` with a 900 ms ttl that outlasts it: it waits for four renewals (one every 300 ms, the
 * fourth 1.2 s after the start), then asks for its own lock as another caller would.
 */
async function runPastTheTtl(locks: CronLockService, seen: Seen): Promise<unknown> {
  const started = performance.now();
  return within(
    locks.run('renewed-run', { ttl: 900 }, async (ctx: LockContext) => {
      await until(() => seen.renewed >= 4, 'four renewals');
      return {
        pastTheTtl: performance.now() - started > 900,
        other: await locks.run('renewed-run', { ttl: 900 }, () => 'ran'),
        aborted: ctx.signal.aborted,
      };
    }),
    'the run',
  );
}

@Injectable()
class QueuedJobs {
  readonly seen: string[] = [];
  private releaseFirst!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.releaseFirst = resolve));

  @LockedCron('*/15 * * * *', { name: 'queued', overlap: 'queue' })
  async run(ctx: LockContext): Promise<void> {
    this.seen.push(ctx.scheduledAt.toISOString());
    if (this.seen.length === 1) {
      await this.gate;
    }
  }

  release(): void {
    this.releaseFirst();
  }
}

@Injectable()
class TriggeredJobs {
  calls = 0;

  @LockedCron('0 0 1 1 *', { name: 'triggered' })
  run(): void {
    this.calls += 1;
  }
}

@Injectable()
class DelayedJobs {
  calls = 0;

  // Far longer than any test: the job never starts while the test runs.
  @LockedCron('* * * * *', { name: 'delayed', initialDelay: 10 * 60_000, catchUp: 'latest' })
  run(): void {
    this.calls += 1;
  }
}

/** Every minute, each start holding the lock 100 ms: each catch-up claim waits for the last hold. */
@Injectable()
class HeldCatchUpJobs {
  readonly seen: string[] = [];

  @LockedCron('0 * * * * *', { name: 'held-catch-up', catchUp: 'all', minHold: '100ms' })
  run(ctx: LockContext): void {
    this.seen.push(ctx.trigger);
  }
}

describe('under timers that are integer ids (jsdom, fake-timer libraries)', () => {
  describe('on the in-memory store (the testing module)', () => {
    it('renews a run that outlasts its ttl: the lock is still held past it, and the run completes', async () => {
      const { locks, seen } = await boot((logger) => [CronLockTestingModule.forRoot({ logger })]);

      const result = await runPastTheTtl(locks, seen);

      expect(result).toMatchObject({
        ran: true,
        value: { pastTheTtl: true, other: { ran: false, reason: 'held' }, aborted: false },
      });
      expect(seen.lost).toEqual([]);
      expect(seen.released).toEqual([true]);
      expect(seen.logger.errors()).toEqual([]);
    });

    it('keeps a minHold lock after the run, and frees it when the hold is over', async () => {
      const { locks, seen } = await boot((logger) => [CronLockTestingModule.forRoot({ logger })]);
      const held = { minHold: '2s', ttl: '10s' } as const;

      expect(await locks.run('held', held, () => 'first')).toMatchObject({ ran: true });
      expect(await locks.run('held', held, () => 'second')).toEqual({
        ran: false,
        reason: 'held',
      });
      await until(async () => (await locks.run('held', held, () => 'later')).ran, 'the hold end');
      expect(seen.logger.errors()).toEqual([]);
    });

    it('runs triggered jobs (before the binding, and with wait), then an occurrence queued behind a run', async () => {
      let early: Promise<TriggerResult> | undefined;
      const { ref, locks, seen } = await boot(
        (logger) => [CronLockTestingModule.forRoot({ logger })],
        [TriggeredJobs, QueuedJobs],
        // Sent before the jobs are bound: it waits for the binding, then runs here.
        (service) => (early = service.trigger('triggered', { timeout: '20s' })),
      );

      expect(await within(early!, 'the trigger sent before the binding')).toMatchObject({
        ran: true,
      });
      const triggered = await within(locks.trigger('triggered', { wait: true }), 'the trigger');
      expect(triggered).toMatchObject({ ran: true, outcome: 'completed' });
      await until(() => ref.get(TriggeredJobs).calls === 2, 'both triggered runs');

      const jobs = ref.get(QueuedJobs);
      const first = runLockedJob(ref, 'queued', {
        scheduledAt: new Date('2025-06-01T09:45:00.000Z'),
      });
      await until(() => jobs.seen.length === 1, 'the first run');
      const second = await runLockedJob(ref, 'queued', {
        scheduledAt: new Date('2025-06-01T10:00:00.000Z'),
      });
      expect(second).toEqual({ ran: false, reason: 'queued', retryIn: expect.any(Number) });
      // Merged into the queued one: the driver arms its retry in case the holder never hands over.
      const third = await runLockedJob(ref, 'queued', {
        scheduledAt: new Date('2025-06-01T10:15:00.000Z'),
      });
      expect(third).toEqual({ ran: false, reason: 'merged' });
      jobs.release();
      await within(first, 'the first run');
      await until(() => jobs.seen.length === 2, 'the queued occurrence');
      expect(jobs.seen).toEqual(['2025-06-01T09:45:00.000Z', '2025-06-01T10:00:00.000Z']);
      expect(seen.logger.errors()).toEqual([]);
    });

    it('boots a job with initialDelay, and catches up occurrences each after the last hold', async () => {
      const store = await storeWithMissedOccurrences(['held-catch-up']);
      const { ref, seen } = await boot(
        (logger) => [ScheduleModule.forRoot(), CronLockTestingModule.forRoot({ store, logger })],
        [DelayedJobs, HeldCatchUpJobs],
      );

      const jobs = ref.get(HeldCatchUpJobs);
      // Five minutes missed: the fourth catch-up claim at least waited for three holds.
      await until(() => jobs.seen.filter((t) => t === 'catch-up').length >= 4, 'the catch-ups');
      expect(ref.get(DelayedJobs).calls).toBe(0);
      expect(seen.logger.errors()).toEqual([]);
    });
  });

  describe('on Redis', () => {
    const onRedis = (logger: CapturingLogger): CronLockModuleOptions => ({
      redis: testRedisUrl(),
      keyPrefix: uniquePrefix('integer-timers'),
      logger,
    });

    it('renews a run that outlasts its ttl, and runs a triggered job', async () => {
      const { ref, locks, seen } = await boot(
        (logger) => [ScheduleModule.forRoot(), CronLockModule.forRoot(onRedis(logger))],
        [TriggeredJobs],
      );

      const result = await runPastTheTtl(locks, seen);
      const triggered = await within(locks.trigger('triggered', { wait: true }), 'the trigger');

      expect(result).toMatchObject({
        ran: true,
        value: { pastTheTtl: true, other: { ran: false, reason: 'held' }, aborted: false },
      });
      expect(triggered).toMatchObject({ ran: true, outcome: 'completed' });
      expect(ref.get(TriggeredJobs).calls).toBe(1);
      expect(seen.lost).toEqual([]);
      expect(seen.logger.errors()).toEqual([]);
    });
  });

  describe('on PostgreSQL', () => {
    // The app's own pool: the store listens on it for triggers, each LISTEN watched by timers.
    const onPostgres = (logger: CapturingLogger): CronLockModuleOptions => {
      const pool = newPool();
      const table = uniqueTable('integer_timers');
      cleanup.push(() => pool.end());
      cleanup.push(async () => {
        const admin = newPool({ max: 1 });
        try {
          await dropTable(admin, table);
        } finally {
          await admin.end();
        }
      });
      return { store: new PostgresLockStore(pool, { table, logger }), logger };
    };

    it('runs a triggered job, and renews a run that outlasts its ttl', async () => {
      const { ref, locks, seen } = await boot(
        (logger) => [ScheduleModule.forRoot(), CronLockModule.forRoot(onPostgres(logger))],
        [TriggeredJobs],
      );

      // First: the channel's LISTEN arms the listening connection's checks.
      const triggered = await within(locks.trigger('triggered', { wait: true }), 'the trigger');
      const result = await runPastTheTtl(locks, seen);

      expect(result).toMatchObject({
        ran: true,
        value: { pastTheTtl: true, other: { ran: false, reason: 'held' }, aborted: false },
      });
      expect(triggered).toMatchObject({ ran: true, outcome: 'completed' });
      expect(ref.get(TriggeredJobs).calls).toBe(1);
      expect(seen.lost).toEqual([]);
      // A failed LISTEN is logged as a warning, and retried.
      expect(seen.logger.lines.filter((line) => line.level === 'warn')).toEqual([]);
      expect(seen.logger.errors()).toEqual([]);
    });
  });
});
