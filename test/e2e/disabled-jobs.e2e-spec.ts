// A `disabled: true` job with catchUp or an overlap policy does nothing by itself until its
// CronJob is started: no catch-up at bootstrap, no queued occurrence taken over from the fleet.
// Calls of the method and trigger() still run it, as for any job.
import { Injectable } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type CronLockEvents,
  type LockContext,
} from 'nestjs-cron-lock';
import { CronLockRegistry } from '../../lib/cron-lock.registry.js';
import { storeWithMissedOccurrences } from '../support/cron-apps.js';
import { waitFor } from '../support/redis.js';

interface Run {
  job: string;
  instanceId: string;
  trigger: LockContext['trigger'];
  scheduledAt: number;
}

/** Runs of every job of the test in progress, from every app. */
const runs: Run[] = [];
const record = (job: string, ctx: LockContext): void => {
  runs.push({
    job,
    instanceId: ctx.instanceId,
    trigger: ctx.trigger,
    scheduledAt: ctx.scheduledAt.getTime(),
  });
};
const triggersOf = (job: string) => runs.filter((run) => run.job === job).map((run) => run.trigger);

/** While set, the disabled queue job's runs wait for it (a run in progress). */
let hold: Promise<void> | null = null;

@Injectable()
class CatchUpJobs {
  // Declared first: at bootstrap its catch-up would start before its sibling's.
  @LockedCron('* * * * *', {
    name: 'disabled-report',
    disabled: true,
    catchUp: 'latest',
    ttl: '10s',
  })
  report(ctx: LockContext): void {
    record('disabled-report', ctx);
  }

  @LockedCron('* * * * *', { name: 'enabled-report', catchUp: 'latest', ttl: '10s' })
  sibling(ctx: LockContext): void {
    record('enabled-report', ctx);
  }
}

// Yearly: no scheduler tick gets in the way; the test fires the ticks it needs.
@Injectable()
class EnabledQueueJob {
  @LockedCron('0 0 1 1 *', { name: 'disabled-queue', overlap: 'queue', ttl: '3s' })
  run(ctx: LockContext): void {
    record('disabled-queue', ctx);
  }
}

@Injectable()
class DisabledQueueJob {
  @LockedCron('0 0 1 1 *', {
    name: 'disabled-queue',
    overlap: 'queue',
    ttl: '3s',
    disabled: true,
  })
  async run(ctx: LockContext): Promise<void> {
    record('disabled-queue', ctx);
    if (hold) {
      await hold;
    }
  }
}

describe('a disabled job with catchUp or an overlap policy', () => {
  const apps: TestingModule[] = [];

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    runs.length = 0;
    hold = null;
  });

  async function boot(
    store: MemoryLockStore,
    providers: Array<new (...args: never[]) => unknown>,
    instanceId = 'only',
  ): Promise<TestingModule> {
    const app = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ store, instanceId, logger: false }),
      ],
      providers,
    }).compile();
    apps.push(app);
    await app.init();
    return app;
  }

  /**
   * Both jobs booted on a store with missed occurrences, once the enabled sibling's catch-up (started
   * after the disabled job's would have been) has run.
   */
  async function bootAfterSiblingCatchUp(): Promise<TestingModule> {
    const app = await boot(
      await storeWithMissedOccurrences(['disabled-report', 'enabled-report']),
      [CatchUpJobs],
    );
    await waitFor(() => triggersOf('enabled-report').length === 1, {
      message: "the enabled sibling's catch-up",
    });
    return app;
  }

  it('does not catch up at bootstrap while the job is disabled', async () => {
    const app = await bootAfterSiblingCatchUp();
    expect(triggersOf('enabled-report')).toEqual(['catch-up']);
    expect(app.get(SchedulerRegistry).getCronJob('disabled-report').isActive).toBe(false);
    expect(triggersOf('disabled-report')).toEqual([]);
  });

  it('catches up at the first tick after start(), then runs that tick', async () => {
    const app = await bootAfterSiblingCatchUp();
    expect(triggersOf('disabled-report')).toEqual([]);

    const job = app.get(SchedulerRegistry).getCronJob('disabled-report');
    job.start();
    job.fireOnTick();

    await waitFor(() => triggersOf('disabled-report').length >= 2, {
      message: 'the catch-up and the tick',
    });
    // A real tick at the next minute may add a run after these two.
    const [caughtUp, ticked] = runs.filter((run) => run.job === 'disabled-report');
    expect([caughtUp.trigger, ticked.trigger]).toEqual(['catch-up', 'schedule']);
    expect(caughtUp.scheduledAt).toBeLessThan(ticked.scheduledAt);
  });

  it('catches up when code that ticks the job itself wakes its driver, without a tick', async () => {
    const app = await bootAfterSiblingCatchUp();
    expect(triggersOf('disabled-report')).toEqual([]);
    await app.get(CronLockRegistry).get('disabled-report')?.binding.driver?.wake();
    expect(triggersOf('disabled-report')).toEqual(['catch-up']);
  });

  it("leaves a queued occurrence to the enabled instances, even when its own run's release finds it", async () => {
    const store = new MemoryLockStore();
    const disabled = await boot(store, [DisabledQueueJob], 'disabled');
    const enabled = await boot(store, [EnabledQueueJob], 'enabled');
    const queued: Array<CronLockEvents['skipped']> = [];
    enabled.get(CronLockService).on('skipped', (event) => queued.push(event));
    let open!: () => void;
    hold = new Promise<void>((resolve) => (open = resolve));

    // A direct call runs a disabled job (a manual run), holding the lock until opened.
    const manual = disabled.get(DisabledQueueJob).run(undefined as unknown as LockContext);
    await waitFor(() => runs.length === 1, { message: 'the manual run' });
    enabled.get(SchedulerRegistry).getCronJob('disabled-queue').fireOnTick();
    await waitFor(() => queued.some((event) => event.reason === 'queued'), {
      message: 'the occurrence queued behind the manual run',
    });
    open();
    await manual;

    await waitFor(() => runs.length === 2, { timeout: 10_000, message: 'the queued occurrence' });
    expect(runs.map(({ instanceId, trigger }) => ({ instanceId, trigger }))).toEqual([
      { instanceId: 'disabled', trigger: 'manual' },
      { instanceId: 'enabled', trigger: 'schedule' },
    ]);
  });
});
