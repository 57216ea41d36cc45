import { Global, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { readFileSync } from 'node:fs';
import { CronLockModule, CronLockService, LockedCron } from 'nestjs-cron-lock';
import type { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { runLockedJob } from 'nestjs-cron-lock/testing';
import pg from 'pg';
import { CRON_LOCK_SCHEDULER_OPTIONAL } from '../../lib/cron-lock.constants.js';
import type { LockApp } from './apps.js';
import { boundInOrder } from './jobs-app.js';

/**
 * A `pg` pool for one contender: its connections are kept (no idle timeout, so the same server
 * processes serve it from round to round), they carry `application_name` so that their server
 * processes can be found, and every query sent on them is counted: one query is one round trip.
 */
export interface BenchPool {
  readonly pool: pg.Pool;
  readonly name: string;
  /** Queries sent on the pool's connections so far. */
  queries(): number;
}

export function benchPool(url: string, name: string, max: number): BenchPool {
  let count = 0;
  const pool = new pg.Pool({
    connectionString: url,
    max,
    idleTimeoutMillis: 0,
    application_name: name,
  });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    const target = client as unknown as { query: (...args: unknown[]) => unknown };
    const original = target.query.bind(client);
    target.query = (...args: unknown[]) => {
      count += 1;
      return original(...args);
    };
  });
  return { pool, name, queries: () => count };
}

/**
 * CPU time (µs) the server processes serving the pools named `names` have used so far: the first
 * field of `/proc/<pid>/schedstat` (ns on the CPU), found through `pg_stat_activity`. The work a
 * statement does (planning, executing, writing its WAL records) runs in the connection's own
 * server process; what the WAL writer and autovacuum do later is not counted. NaN where
 * `/proc` cannot be read.
 */
export async function backendMicros(admin: pg.Pool, names: readonly string[]): Promise<number> {
  const { rows } = await admin.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE application_name = ANY ($1::text[])',
    [names],
  );
  let nanos = 0;
  for (const { pid } of rows) {
    try {
      nanos += Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      return Number.NaN;
    }
  }
  return nanos / 1000;
}

const HOUR = 3_600_000;
export const GROWTH_JOB = 'growth';
export const QUEUE_JOB = 'growth-queue';
export const PAUSED_JOB = 'growth-paused';

/**
 * Hourly jobs as a user declares them; the benchmark runs their occurrences through their own
 * runner with `runLockedJob`, so nothing is scheduled on the clock (no `ScheduleModule`).
 */
@Injectable()
class GrowthJobs {
  @LockedCron('0 * * * *', { name: GROWTH_JOB, ttl: 30_000 })
  async growth(): Promise<void> {}

  @LockedCron('0 * * * *', { name: QUEUE_JOB, ttl: 30_000, overlap: 'queue' })
  async queued(): Promise<void> {}

  @LockedCron('0 * * * *', { name: PAUSED_JOB, ttl: 30_000 })
  async paused(): Promise<void> {}
}

/**
 * Lets `@LockedCron` jobs bootstrap without `ScheduleModule`, as `CronLockTestingModule` does:
 * nothing fires on the clock, the benchmark runs every occurrence itself.
 */
@Global()
@Module({
  providers: [{ provide: CRON_LOCK_SCHEDULER_OPTIONAL, useValue: true }],
  exports: [CRON_LOCK_SCHEDULER_OPTIONAL],
})
class NoScheduler {}

/** A Nest app with {@link GrowthJobs} on `store`, keeping `historySize` entries per job. */
export async function startJobsApp(
  store: PostgresLockStore,
  historySize: number | undefined,
): Promise<LockApp> {
  @Module({
    imports: [
      NoScheduler,
      CronLockModule.forRoot({
        logger: false,
        store,
        ...(historySize === undefined ? {} : { historySize }),
      }),
    ],
    providers: [GrowthJobs],
  })
  class JobsAppModule {}

  const app = await NestFactory.createApplicationContext(JobsAppModule, { logger: false });
  await app.init();
  // The occurrences run are the schedule's own, each right after the one before.
  for (const name of [GROWTH_JOB, QUEUE_JOB, PAUSED_JOB]) {
    boundInOrder(app, name);
  }
  return { app, locks: app.get(CronLockService), close: () => app.close() };
}

/**
 * One occurrence of `job` per call, the next hour each time (consecutive occurrences: none found
 * missed), starting a year back so that none is ahead of the database clock. Resolves with the
 * run's result reason, `ran` when it ran.
 */
export function occurrenceRunner(app: LockApp, job: string): () => Promise<string> {
  let scheduledAt = Math.floor(Date.now() / HOUR) * HOUR - 365 * 24 * HOUR;
  return async () => {
    scheduledAt += HOUR;
    const result = await runLockedJob(app.app, job, { scheduledAt });
    return result.ran ? 'ran' : result.reason;
  };
}
