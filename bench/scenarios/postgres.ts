import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import pg from 'pg';
import { startPostgresServer } from '../../test/support/postgres-server.js';
import { startLockApp, type LockApp } from '../support/apps.js';
import type { BenchConfig, Section } from '../support/section.js';
import {
  formatNumber,
  formatRatio,
  formatSummary,
  pairedRatios,
  summarizeRounds,
} from '../support/stats.js';

const TTL = 30_000;
const INSTANCES = 4;
/** Connections per instance in the tick storm, alike for the floor and the store. */
const STORM_POOL_SIZE = 10;
/** The store's bound of one operation in the storm (see where it is passed). */
const STORM_OPERATION_TIMEOUT_MS = 60_000;
const INSTANCE_ID = `${hostname()}:${process.pid}:bench`;
const FLOOR_TABLE = 'bench_floor';

/**
 * The floor: one `INSERT … ON CONFLICT DO NOTHING` to acquire and one owner-checked `DELETE`
 * to release, each one statement on a `pg` pool. No expiry check, no occurrence marker, no
 * fencing token, no history: the least any PostgreSQL lock does.
 */
const FLOOR_ACQUIRE = `INSERT INTO ${FLOOR_TABLE} (name, token, expires_at)
VALUES ($1, $2, clock_timestamp() + interval '30 seconds') ON CONFLICT (name) DO NOTHING RETURNING 1`;
const FLOOR_RELEASE = `DELETE FROM ${FLOOR_TABLE} WHERE name = $1 AND token = $2`;

const token = (): string => randomBytes(16).toString('hex');

async function floorCycle(pool: pg.Pool, name: string): Promise<boolean> {
  const owner = token();
  const taken = await pool.query(FLOOR_ACQUIRE, [name, owner]);
  if (taken.rowCount !== 1) {
    return false;
  }
  await pool.query(FLOOR_RELEASE, [name, owner]);
  return true;
}

interface Cycler {
  name: string;
  cycle(): Promise<void>;
}

async function timeCycles(cycler: Cycler, cycles: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    await cycler.cycle();
  }
  return ((performance.now() - started) / cycles) * 1000;
}

/** Starts every (job, instance) attempt at once; resolves with the runs and the ms until all settled. */
async function storm(
  jobs: number,
  attempt: (job: number, instance: number) => Promise<boolean>,
): Promise<{ runs: number; ms: number }> {
  const started = performance.now();
  const pending: Promise<boolean>[] = [];
  for (let job = 0; job < jobs; job++) {
    for (let instance = 0; instance < INSTANCES; instance++) {
      pending.push(attempt(job, instance));
    }
  }
  const won = await Promise.all(pending);
  return { runs: won.filter(Boolean).length, ms: performance.now() - started };
}

/**
 * PostgreSQL: `PostgresLockStore` against its raw floor, per run and in the tick storm, on a
 * private PostgreSQL started for the benchmark (initdb into a temporary directory).
 */
export async function postgresScenario(config: BenchConfig): Promise<Section> {
  const rounds = config.quick ? 2 : 15;
  const cycles = config.quick ? 50 : 300;
  const warmup = config.quick ? 20 : 200;
  const jobs = config.quick ? 100 : 1_000;
  const stormRounds = config.quick ? 1 : 7;

  const server = await startPostgresServer();
  const pools: pg.Pool[] = [];
  const apps: LockApp[] = [];
  const newPool = (max: number): pg.Pool => {
    const pool = new pg.Pool({ connectionString: server.url, max });
    pool.on('error', () => undefined);
    pools.push(pool);
    return pool;
  };
  try {
    const admin = newPool(1);
    await admin.query(
      `CREATE TABLE ${FLOOR_TABLE} (name text PRIMARY KEY, token text NOT NULL, expires_at timestamptz NOT NULL)`,
    );

    // Per run: one connection each, sequential cycles.
    const floorPool = newPool(1);
    const storePool = newPool(1);
    const modulePool = newPool(1);
    const store = new PostgresLockStore(storePool, { table: 'bench_store', logger: false });
    const moduleApp = await startLockApp({
      store: new PostgresLockStore(modulePool, { table: 'bench_module', logger: false }),
    });
    apps.push(moduleApp);
    const cyclers: Cycler[] = [
      {
        name: 'floor (INSERT … ON CONFLICT DO NOTHING + owner-checked DELETE)',
        cycle: async () => {
          if (!(await floorCycle(floorPool, 'per-run'))) throw new Error('floor: held');
        },
      },
      {
        name: 'PostgresLockStore alone (no Nest, no run())',
        cycle: async () => {
          const owner = token();
          const acquired = await store.acquire({
            name: 'per-run',
            token: owner,
            ttl: TTL,
            instanceId: INSTANCE_ID,
          });
          if (!acquired.acquired) throw new Error(`store: ${acquired.reason}`);
          const outcome = { status: 'completed' as const, durationMs: 0, finishedAt: Date.now() };
          await store.release({ name: 'per-run', token: owner, outcome });
        },
      },
      {
        name: 'nestjs-cron-lock run() on PostgresLockStore',
        cycle: async () => {
          const result = await moduleApp.locks.run('per-run', { ttl: TTL }, async () => undefined);
          if (!result.ran) throw new Error(`run(): ${result.reason}`);
        },
      },
    ];
    const micros = new Map<Cycler, number[]>(cyclers.map((cycler) => [cycler, []]));
    for (const cycler of cyclers) {
      await timeCycles(cycler, warmup);
    }
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < cyclers.length; i++) {
        const cycler = cyclers[(i + round) % cyclers.length];
        micros.get(cycler)!.push(await timeCycles(cycler, cycles));
      }
      config.progress(`postgres per-run: round ${round + 1}/${rounds}`);
    }
    const rates = (cycler: Cycler): number[] => micros.get(cycler)!.map((us) => 1e6 / us);
    const floorRates = rates(cyclers[0]);

    // Tick storm: INSTANCES instances, each with its own pool, all trying every job at once.
    const floorPools = Array.from({ length: INSTANCES }, () => newPool(STORM_POOL_SIZE));
    const stormApps = await Promise.all(
      Array.from({ length: INSTANCES }, () =>
        startLockApp({
          store: new PostgresLockStore(newPool(STORM_POOL_SIZE), {
            table: 'bench_storm',
            // The storm queues every job's acquire on the pool at once; the default 2 s bound
            // (pool wait included) would turn the tail of the queue into store-error skips on a
            // loaded machine, and this row measures throughput, not that bound.
            operationTimeout: STORM_OPERATION_TIMEOUT_MS,
            logger: false,
          }),
        }),
      ),
    );
    apps.push(...stormApps);
    const occurrence0 = Date.UTC(2025, 0, 1);
    const stormers = [
      {
        name: 'floor (INSERT … ON CONFLICT DO NOTHING + owner-checked DELETE)',
        storm: (n: number, round: number) =>
          storm(n, (job, instance) => floorCycle(floorPools[instance], `${round}:storm-${job}`)),
      },
      {
        name: 'nestjs-cron-lock run() on PostgresLockStore',
        storm: (n: number, round: number) =>
          storm(n, async (job, instance) => {
            const result = await stormApps[instance].locks.run(
              `storm-${job}`,
              { ttl: TTL, scheduledAt: occurrence0 + (round + 2) * 60_000 },
              async () => undefined,
            );
            return result.ran;
          }),
      },
    ];
    const stormMs = new Map(stormers.map((stormer) => [stormer, [] as number[]]));
    for (const stormer of stormers) {
      await stormer.storm(Math.min(jobs, 100), -1);
    }
    for (let round = 0; round < stormRounds; round++) {
      for (let i = 0; i < stormers.length; i++) {
        const stormer = stormers[(i + round) % stormers.length];
        const outcome = await stormer.storm(jobs, round);
        if (stormer === stormers[1] && outcome.runs !== jobs) {
          throw new Error(
            `postgres tick storm: ran ${outcome.runs} times for ${jobs} jobs of one occurrence`,
          );
        }
        stormMs.get(stormer)!.push(outcome.ms);
      }
      config.progress(`postgres tick storm: round ${round + 1}/${stormRounds}`);
    }
    const floorStorm = stormMs.get(stormers[0])!;

    const rows = [
      ...cyclers.map((cycler) => {
        const rate = summarizeRounds(rates(cycler));
        return [
          `per run: ${cycler.name}`,
          `${formatSummary(rate)} cycles/s`,
          formatNumber(1000 / rate.median, 3),
          formatRatio(summarizeRounds(pairedRatios(rates(cycler), floorRates))),
        ];
      }),
      ...stormers.map((stormer) => {
        const ms = summarizeRounds(stormMs.get(stormer)!);
        return [
          `tick storm ${formatNumber(jobs)} × ${INSTANCES}: ${stormer.name}`,
          `${formatSummary(ms)} ms until all settled`,
          formatNumber(ms.median / (jobs * INSTANCES), 3),
          // Faster is better: the floor's time over this contender's, round by round.
          formatRatio(summarizeRounds(pairedRatios(floorStorm, stormMs.get(stormer)!))),
        ];
      }),
    ];
    return {
      title: '6. PostgreSQL store',
      method:
        `PostgresLockStore on a private PostgreSQL ${await serverVersion(admin)} (started for the ` +
        'benchmark; fsync off). Per run: sequential acquire+release cycles on one name, one ' +
        `pooled connection each, ${rounds} interleaved rounds of ${cycles} cycles. Tick storm: ` +
        `${INSTANCES} instances, each a Nest app with its own pool of ${STORM_POOL_SIZE} ` +
        `connections, all running ${formatNumber(jobs)} jobs of one occurrence at once ` +
        `(${stormRounds} rounds; operationTimeout ${STORM_OPERATION_TIMEOUT_MS / 1000} s, since ` +
        'every attempt waits its turn for a pooled connection). The floor is one ' +
        '`INSERT … ON CONFLICT DO NOTHING` and one ' +
        'owner-checked `DELETE` per lock, on the same pools.',
      headers: ['Row', 'Median (min–max)', 'ms per cycle or attempt', 'vs floor (min–max)'],
      rows,
      targets: [],
      notes: [
        'What the store does beyond the floor, each run: the acquire locks the job row, checks ' +
          'the occurrence marker and the expiry on the database clock, and hands out a fencing ' +
          'token; the release records the outcome, frees the lock with an owner check, and ' +
          'sweeps a few expired rows.',
      ],
    };
  } finally {
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
    await server.stop();
  }
}

async function serverVersion(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ server_version: string }>('SHOW server_version');
  return rows[0]?.server_version.split(' ')[0] ?? 'unknown';
}
