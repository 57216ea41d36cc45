// A job stopped (`getCronJob(name).stop()`) or deleted (`deleteCronJob(name)`) through
// SchedulerRegistry at run time, with catchUp or an overlap policy: as with `@Cron`, nothing of
// it starts on that instance by itself any more. Its missed occurrences are not caught up there,
// and a queued occurrence handed to its last run's release is left to the instances still
// running the job.
import { Injectable } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type CronLockEvents,
  type CronLockModuleOptions,
  type LockContext,
} from 'nestjs-cron-lock';
import { storeWithMissedOccurrences } from '../support/cron-apps.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

interface Run {
  instanceId: string;
  trigger: LockContext['trigger'];
  startedAt: number;
}

/** Runs of the test in progress, from every app. */
const runs: Run[] = [];
const record = (ctx: LockContext): void => {
  runs.push({ instanceId: ctx.instanceId, trigger: ctx.trigger, startedAt: Date.now() });
};

/** While set, runs wait for it (a run in progress, holding the lock). */
let hold: Promise<void> | null = null;

@Injectable()
class CatchUpJob {
  @LockedCron('* * * * * *', { name: 'stopped-catch-up', catchUp: 'all', ttl: '10s' })
  async run(ctx: LockContext): Promise<void> {
    record(ctx);
    if (hold) {
      await hold;
    }
  }
}

/** Two jobs whose CronJobs `@nestjs/schedule` starts 500 ms after bootstrap. */
@Injectable()
class DelayedJobs {
  @LockedCron('* * * * *', {
    name: 'deleted-delayed',
    catchUp: 'latest',
    ttl: '10s',
    initialDelay: 500,
  })
  deleted(ctx: LockContext): void {
    runs.push({ instanceId: 'deleted-delayed', trigger: ctx.trigger, startedAt: Date.now() });
  }

  @LockedCron('* * * * *', {
    name: 'kept-delayed',
    catchUp: 'latest',
    ttl: '10s',
    initialDelay: 500,
  })
  kept(ctx: LockContext): void {
    runs.push({ instanceId: 'kept-delayed', trigger: ctx.trigger, startedAt: Date.now() });
  }
}

// Yearly: no scheduler tick gets in the way; the test fires the ticks it needs.
@Injectable()
class QueueJob {
  @LockedCron('0 0 1 1 *', { name: 'stopped-queue', overlap: 'queue', ttl: '3s' })
  async run(ctx: LockContext): Promise<void> {
    record(ctx);
    if (hold) {
      await hold;
    }
  }
}

describe('a job stopped or deleted through SchedulerRegistry at run time', () => {
  const apps: TestingModule[] = [];

  afterEach(async () => {
    hold = null;
    await Promise.all(apps.splice(0).map((app) => app.close()));
    runs.length = 0;
  });

  async function boot(
    options: CronLockModuleOptions,
    providers: Array<new () => unknown>,
  ): Promise<TestingModule> {
    const app = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), CronLockModule.forRoot(options)],
      providers,
    }).compile();
    apps.push(app);
    await app.init();
    return app;
  }

  const stores = {
    memory: (): CronLockModuleOptions => ({ store: new MemoryLockStore() }),
    redis: (): CronLockModuleOptions => ({
      redis: testRedisUrl(),
      keyPrefix: uniquePrefix('stopped'),
    }),
  };

  for (const [storeName, storeOptions] of Object.entries(stores)) {
    it(`deleteCronJob() during a run: its missed occurrences are not caught up after it (${storeName})`, async () => {
      const app = await boot({ ...storeOptions(), instanceId: 'only', logger: false }, [
        CatchUpJob,
      ]);
      const locks = app.get(CronLockService);
      const held: Array<CronLockEvents['skipped']> = [];
      locks.on('skipped', (event) => event.reason === 'held' && held.push(event));
      let ended = 0;
      locks.on('completed', () => ended++);
      let open!: () => void;
      hold = new Promise<void>((resolve) => (open = resolve));

      await waitFor(() => runs.length === 1, { message: 'the first run' });
      // Two ticks find the run holding the lock: two occurrences missed, for catchUp to run.
      await waitFor(() => held.length >= 2, { message: 'two ticks skipped as held' });
      app.get(SchedulerRegistry).deleteCronJob('stopped-catch-up');
      const deletedAt = Date.now();
      hold = null;
      open();
      await waitFor(() => ended >= 1, { message: 'the end of the run in progress' });

      // Proves that nothing starts: a catch-up would start in the same turn as the release.
      await sleep(1_500);
      expect(runs.filter((run) => run.startedAt >= deletedAt)).toEqual([]);
    });
  }

  it('stop() during a run: the queued occurrence its release finds runs on the instance still running the job', async () => {
    const store = new MemoryLockStore();
    const stopped = await boot({ store, instanceId: 'stopped', logger: false }, [QueueJob]);
    const live = await boot({ store, instanceId: 'live', logger: false }, [QueueJob]);
    const queued: Array<CronLockEvents['skipped']> = [];
    live.get(CronLockService).on('skipped', (event) => queued.push(event));
    let open!: () => void;
    hold = new Promise<void>((resolve) => (open = resolve));

    // A direct call (a manual run) holds the lock until opened.
    const manual = stopped.get(QueueJob).run(undefined as unknown as LockContext);
    await waitFor(() => runs.length === 1, { message: 'the manual run' });
    stopped.get(SchedulerRegistry).getCronJob('stopped-queue').stop();
    live.get(SchedulerRegistry).getCronJob('stopped-queue').fireOnTick();
    await waitFor(() => queued.some((event) => event.reason === 'queued'), {
      message: 'the occurrence queued behind the manual run',
    });
    hold = null;
    open();
    await manual;

    // The live instance claims it once the manual run's lock would have expired (ttl 3 s).
    await waitFor(() => runs.length === 2, { timeout: 10_000, message: 'the queued occurrence' });
    expect(runs.map(({ instanceId, trigger }) => ({ instanceId, trigger }))).toEqual([
      { instanceId: 'stopped', trigger: 'manual' },
      { instanceId: 'live', trigger: 'schedule' },
    ]);
  });

  it('deleteCronJob() during initialDelay: the job does not catch up when the delay ends', async () => {
    const store = await storeWithMissedOccurrences(['deleted-delayed', 'kept-delayed']);
    const app = await boot({ store, instanceId: 'only', logger: false }, [DelayedJobs]);
    // As @nestjs/schedule, which then does not start the deleted job.
    app.get(SchedulerRegistry).deleteCronJob('deleted-delayed');

    await waitFor(() => runs.some((run) => run.instanceId === 'kept-delayed'), {
      message: "the kept job's catch-up when the delay ends",
    });
    // Proves that the deleted job's catch-up, due at the same moment, does not follow.
    await sleep(500);
    expect(runs.map(({ instanceId, trigger }) => ({ instanceId, trigger }))).toEqual([
      { instanceId: 'kept-delayed', trigger: 'catch-up' },
    ]);
  });
});
