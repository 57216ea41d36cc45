import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  type CronLockModuleOptions,
  type LockedCronOptions,
  type LockedRunResult,
} from 'nestjs-cron-lock';
import { CronLockRegistry, type BoundJob } from '../../lib/cron-lock.registry.js';
import { originalMethodOf } from '../../lib/decorators/lock-method.js';
import type { LockApp } from './apps.js';

/**
 * The schedule of the benchmark's `@LockedCron` jobs: every second, in UTC. The benchmark picks
 * each tick's occurrence itself (see {@link JobsApp.tick}), so the latest due occurrence of the
 * schedule is never after the one just run (see clockOccurrences): catch-up finds nothing to run,
 * as on a fleet that missed nothing, and still does its work after every run. Every second, so that a run ends
 * within a second of an occurrence, as a real tick of a job that does nothing does.
 */
export const EVERY_SECOND = '* * * * * *';

/** What the jobs do besides their lock: `catchUp`, `overlap` (as `@LockedCron` takes them). */
export type JobPolicy = Pick<LockedCronOptions, 'catchUp' | 'overlap'>;

/** An app with `@LockedCron` jobs, ticked by the benchmark instead of the scheduler. */
export interface JobsApp extends LockApp {
  /**
   * One scheduler tick of job `name` for occurrence `scheduledAt`, on the path a tick of the
   * locked method takes: through the job's occurrence driver when it has one (catch-up, overlap
   * queue or replace), else straight to the lock, as the method itself does.
   */
  tick(name: string, scheduledAt: number): Promise<LockedRunResult<unknown>>;
  /** Called by every job's body as it runs (set it before ticking). */
  onRun: () => void;
}

/**
 * A provider with one `@LockedCron(EVERY_SECOND)` method per name, each locking under that name
 * with `policy`; `disabled`, so the scheduler never ticks them on its own.
 */
function jobsProvider(names: readonly string[], ttl: number, policy: JobPolicy): new () => object {
  @Injectable()
  class BenchJobs {
    onRun: () => void = () => undefined;
  }
  const options: LockedCronOptions = {
    ttl,
    disabled: true,
    timeZone: 'UTC',
    ...policy,
  };
  names.forEach((name, i) => {
    const key = `job${i}`;
    const descriptor: TypedPropertyDescriptor<(this: BenchJobs) => void> = {
      value: function (this: BenchJobs) {
        this.onRun();
      },
      writable: true,
      configurable: true,
      enumerable: false,
    };
    const locked = LockedCron(EVERY_SECOND, { ...options, name })(
      BenchJobs.prototype,
      key,
      descriptor,
    );
    Object.defineProperty(BenchJobs.prototype, key, locked ?? descriptor);
  });
  return BenchJobs;
}

/**
 * A Nest application context with the module and `@LockedCron` jobs named `names` (with
 * `ScheduleModule`, as such jobs require), as a user would run it.
 */
export async function startJobsApp(
  options: CronLockModuleOptions,
  names: readonly string[],
  ttl: number,
  policy: JobPolicy = {},
): Promise<JobsApp> {
  const Jobs = jobsProvider(names, ttl, policy);

  @Module({
    imports: [ScheduleModule.forRoot(), CronLockModule.forRoot({ logger: false, ...options })],
    providers: [Jobs],
  })
  class BenchJobsModule {}

  const app: INestApplicationContext = await NestFactory.createApplicationContext(BenchJobsModule, {
    logger: false,
  });
  await app.init();
  // Disabled jobs wait for their first tick to catch up (see OccurrenceDriver): wake them as
  // enabled jobs start, so that the rounds measure ticks at steady state, not the start-up.
  await Promise.all(names.map((name) => boundInOrder(app, name).binding.driver?.wake()));
  const instance = app.get(Jobs) as { onRun: () => void };
  const ticks = new Map<string, (scheduledAt: number) => Promise<LockedRunResult<unknown>>>();
  for (const name of names) {
    // The benchmark's own occurrences are not the schedule's.
    const bound = boundInOrder(app, name);
    const original = originalMethodOf(bound.method);
    if (!original) {
      throw new Error(`bench: job ${name} is not bound`);
    }
    const { binding } = bound;
    const body = (ctx: unknown) => original.call(bound.instance, ctx);
    const driver = binding.driver;
    ticks.set(
      name,
      driver
        ? (at) => driver.tick(at)
        : (at) => binding.runner.execute(binding.job, at, body, 'tick'),
    );
  }
  return {
    app,
    locks: app.get(CronLockService),
    close: () => app.close(),
    tick: (name, scheduledAt) => ticks.get(name)!(scheduledAt),
    set onRun(listener: () => void) {
      instance.onRun = listener;
    },
    get onRun() {
      return instance.onRun;
    },
  };
}

/** What the check for missed occurrences answers for ticks in order: none. */
const inOrder = (): { occurrences: number[]; more: number } => ({ occurrences: [], more: 0 });

/**
 * Job `name` as bound in `app`, its check for missed occurrences answering as for ticks in order.
 * A real tick's claim makes that check without a step of the cron package when it follows the
 * tick before it (see missedBetweenOf); occurrences the benchmark picks, or that `runLockedJob`
 * cannot tell are in order, would each pay a cron step that no tick in order pays.
 */
export function boundInOrder(app: INestApplicationContext, name: string): BoundJob {
  const bound = app.get(CronLockRegistry).get(name);
  if (!bound) {
    throw new Error(`bench: job ${name} is not bound`);
  }
  bound.binding.job.missedBetween = inOrder;
  return bound;
}

/** How far ahead of the clock the benchmark's ticks are: more than any round lasts. */
const AHEAD_MS = 60_000;

/**
 * Occurrences for ticks: each after the one before, and on the schedule's second a minute ahead
 * of the clock when picked (well within what the store accepts ahead of its clock). The
 * schedule's latest due occurrence then stays before the one just run for as long as a round
 * can take: catch-up never finds one due that the benchmark did not tick (it would claim it
 * beside the measured runs, unseen by their counts).
 */
export function clockOccurrences(): () => number {
  let last = 0;
  return () => {
    last = Math.max(last + 1, Math.ceil((Date.now() + AHEAD_MS) / 1000) * 1000);
    return last;
  };
}
