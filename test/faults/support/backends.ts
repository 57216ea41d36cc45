/**
 * Where a scenario's workers lock: Redis (the suite's server, under the scenario's own key
 * prefix) or PostgreSQL (the suite's database, in a table of the scenario's own). The scheduling
 * scenarios run once on each, since a catch-up or overlap policy must mean the same on both.
 */
import { RedisLockStore, type StoredLockState } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import pg from 'pg';
import { testPostgresUrl, uniqueTable } from '../../support/postgres.js';
import { testRedisUrl } from '../../support/redis.js';
import type { WorkerOptions } from './cluster.js';
import { FAULT_JOB } from './records.js';
import type { Scenario } from './scenario.js';

export type Backend = 'redis' | 'postgres';

export const BACKENDS: readonly Backend[] = ['redis', 'postgres'];

/** What workers on one backend need, and a reader of the job's state there. */
export interface BackendHandle {
  /** Settings to spread into every worker's options. */
  readonly worker: Pick<WorkerOptions, 'redisUrl' | 'env'>;
  /** The job's state as the store keeps it (last occurrence claimed, holder, ttl left). */
  inspect(): Promise<StoredLockState>;
}

/** Sets a scenario up on `backend`; everything it creates goes when the scenario ends. */
export function onBackend(s: Scenario, backend: Backend): BackendHandle {
  if (backend === 'redis') {
    const url = testRedisUrl();
    const reader = new RedisLockStore(url, { keyPrefix: s.keyPrefix, logger: false });
    s.defer(() => reader.close());
    s.defer(async () => {
      const admin = s.client(url);
      const keys = await admin.keys(`${s.keyPrefix}:*`);
      if (keys.length > 0) await admin.del(...keys);
    });
    return { worker: { redisUrl: url }, inspect: () => reader.inspect(FAULT_JOB) };
  }
  const databaseUrl = testPostgresUrl();
  const table = uniqueTable('faults');
  const reader = new PostgresLockStore(databaseUrl, { table, logger: false });
  s.defer(() => reader.close());
  s.defer(async () => {
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`DROP TABLE IF EXISTS public.${table}`).finally(() => admin.end());
  });
  return {
    // The Redis URL is unused: the workers lock in PostgreSQL.
    worker: {
      redisUrl: testRedisUrl(),
      env: { FAULT_DATABASE_URL: databaseUrl, FAULT_PG_TABLE: table },
    },
    inspect: () => reader.inspect(FAULT_JOB),
  };
}
