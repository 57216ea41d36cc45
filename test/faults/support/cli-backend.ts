/**
 * One store, seen from both sides of a cross-process proof: what the forked workers lock in and
 * what the CLI is pointed at (Redis under a key prefix of its own, or PostgreSQL in a table of
 * its own), and how to remove what the scenario left there.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { testPostgresUrl, uniqueTable } from '../../support/postgres.js';
import { testRedisUrl, uniquePrefix } from '../../support/redis.js';
import type { WorkerOptions } from './cluster.js';
import type { Backend } from './backends.js';

export interface CliBackend {
  /** Settings to spread into every worker's options. */
  readonly worker: Pick<WorkerOptions, 'redisUrl' | 'keyPrefix' | 'env'>;
  /** The CLI's store arguments. */
  readonly cliArgs: string[];
  /** The CLI's environment. */
  readonly cliEnv: Record<string, string>;
  /** Removes the scenario's keys or table. */
  cleanup(): Promise<void>;
}

export function cliBackend(backend: Backend, name: string): CliBackend {
  const keyPrefix = uniquePrefix(name);
  if (backend === 'redis') {
    const url = testRedisUrl();
    return {
      worker: { redisUrl: url, keyPrefix },
      cliArgs: ['--redis', url, '--prefix', keyPrefix],
      cliEnv: {},
      async cleanup() {
        const admin = new Redis(url);
        try {
          const keys = await admin.keys(`${keyPrefix}:*`);
          if (keys.length > 0) await admin.del(...keys);
        } finally {
          admin.disconnect();
        }
      },
    };
  }
  const databaseUrl = testPostgresUrl();
  const table = uniqueTable(name.replace(/-/g, '_'));
  return {
    // The Redis URL and prefix are unused: the workers lock in PostgreSQL.
    worker: {
      redisUrl: testRedisUrl(),
      keyPrefix,
      env: { FAULT_DATABASE_URL: databaseUrl, FAULT_PG_TABLE: table },
    },
    cliArgs: ['--table', table],
    cliEnv: { DATABASE_URL: databaseUrl },
    async cleanup() {
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      try {
        await admin.query(`DROP TABLE IF EXISTS public.${table}`);
        await admin.query(`DROP TABLE IF EXISTS public.${table}_history`);
      } finally {
        await admin.end();
      }
    },
  };
}
