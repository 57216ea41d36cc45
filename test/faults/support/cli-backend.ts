/**
 * One store, seen from both sides of a cross-process proof: what the forked workers lock in and
 * what the CLI is pointed at (Redis under a key prefix of its own, or PostgreSQL in a table of
 * its own), and how to remove what the scenario left there. {@link cliFleets} puts a fleet of
 * workers and the CLI on such a store, one per test.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterEach } from 'vitest';
import { runCli, type CliRun } from '../../cli/cli-process.js';
import { testPostgresUrl, uniqueTable } from '../../support/postgres.js';
import { testRedisUrl, uniquePrefix } from '../../support/redis.js';
import { FaultCluster, type FaultWorker, type WorkerOptions } from './cluster.js';
import type { Backend } from './backends.js';
import { FAULT_JOB } from './records.js';

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

/** Forked workers running the fault job every second on one store, and the CLI on that store. */
export interface CliFleet {
  /** The workers forked so far, and their records. */
  readonly fleet: FaultCluster;
  /**
   * Forks worker `instance`: the fault job every second, 5 s ttl, 50 ms of work, seed 1, plus
   * the options given to `begin`.
   */
  spawn(instance: string): FaultWorker;
  /** Runs `nestjs-cron-lock <command> <the fault job> <the store's arguments> ...args`. */
  cli(command: string, ...args: string[]): Promise<CliRun>;
}

/**
 * Wires cross-process CLI proofs into a spec file: call once at the top of a `describe`, then
 * `begin(backend)` at the start of each test. After each test the workers are killed, their
 * sinks removed and the store's keys or table dropped.
 */
export function cliFleets(name: string): {
  begin(backend: Backend, worker?: Partial<WorkerOptions>): CliFleet;
} {
  let cluster: FaultCluster | null = null;
  let store: CliBackend | null = null;

  afterEach(async () => {
    await cluster?.stop();
    cluster?.cleanup(false);
    cluster = null;
    await store?.cleanup();
    store = null;
  });

  return {
    begin(backend, worker = {}) {
      const on = cliBackend(backend, name);
      store = on;
      const fleet = new FaultCluster();
      cluster = fleet;
      return {
        fleet,
        spawn: (instance) =>
          fleet.spawn({
            instance,
            ...on.worker,
            cron: '* * * * * *',
            ttlMs: 5_000,
            jobMs: 50,
            seed: 1,
            ...worker,
          }),
        cli: (command, ...args) =>
          runCli([command, FAULT_JOB, ...on.cliArgs, ...args], { env: on.cliEnv }),
      };
    },
  };
}
