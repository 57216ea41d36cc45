import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { startPostgresServer } from '../../test/support/postgres-server.js';
import { startLockApp, type LockApp } from '../support/apps.js';
import {
  clockOccurrences,
  startJobsApp as startTickedJobs,
  type JobPolicy,
  type JobsApp,
} from '../support/jobs-app.js';
import {
  backendMicros,
  benchPool,
  GROWTH_JOB,
  occurrenceRunner,
  PAUSED_JOB,
  QUEUE_JOB,
  startJobsApp,
  type BenchPool,
} from '../support/postgres.js';
import type { BenchConfig, Section, Target } from '../support/section.js';
import {
  formatNumber,
  formatRatio,
  formatSummary,
  pairedRatios,
  summarizeRounds,
  type Summary,
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

/** The floor's two statements, prepared once per connection (as the store's are). */
async function preparedFloorCycle(pool: pg.Pool, name: string): Promise<boolean> {
  const owner = token();
  const taken = await pool.query({
    name: 'floor_acquire',
    text: FLOOR_ACQUIRE,
    values: [name, owner],
  });
  if (taken.rowCount !== 1) {
    return false;
  }
  await pool.query({ name: 'floor_release', text: FLOOR_RELEASE, values: [name, owner] });
  return true;
}

/** One contender of the per-run rows: sequential cycles on its own pool. */
interface Cycler {
  name: string;
  pool: BenchPool;
  cycle(): Promise<void>;
}

/** What one round of one contender measured, per cycle. */
interface Sample {
  rate: number;
  cpuMicros: number;
  backendMicros: number;
  roundTrips: number;
}

async function timeCycles(cycler: Cycler, cycles: number, admin: pg.Pool): Promise<Sample> {
  const backendBefore = await backendMicros(admin, [cycler.pool.name]);
  const queriesBefore = cycler.pool.queries();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    await cycler.cycle();
  }
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const backend = (await backendMicros(admin, [cycler.pool.name])) - backendBefore;
  return {
    rate: (cycles / wallMs) * 1000,
    cpuMicros: (used.user + used.system) / cycles,
    backendMicros: backend / cycles,
    roundTrips: (cycler.pool.queries() - queriesBefore) / cycles,
  };
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

interface Setup {
  admin: pg.Pool;
  /** Makes a counted pool, closed with the scenario. */
  pool(name: string, max: number): BenchPool;
  /** Registers an app, closed with the scenario. */
  app<T extends LockApp>(app: Promise<T>): Promise<T>;
}

/** The per-run contenders: the floor, the store, `run()` on both paths, and the growth rows. */
async function perRunCyclers(setup: Setup): Promise<Cycler[]> {
  const floorPool = setup.pool('bench-floor', 1);
  const preparedFloorPool = setup.pool('bench-floor-prepared', 1);
  const storePool = setup.pool('bench-store', 1);
  const store = new PostgresLockStore(storePool.pool, { table: 'bench_store', logger: false });
  const runPool = setup.pool('bench-run', 1);
  const runApp = await setup.app(
    startLockApp({
      store: new PostgresLockStore(runPool.pool, { table: 'bench_module', logger: false }),
    }),
  );
  const cronPool = setup.pool('bench-cron', 1);
  const cronApp = await setup.app(
    startLockApp({
      store: new PostgresLockStore(cronPool.pool, { table: 'bench_cron', logger: false }),
    }),
  );
  // Two connections: an app with jobs keeps one listening for the fleet's triggers.
  const jobs = async (historySize: number | undefined, label: string) => {
    const pool = setup.pool(`bench-${label}`, 2);
    const app = await setup.app(
      startJobsApp(
        new PostgresLockStore(pool.pool, { table: `bench_${label}`, logger: false }),
        historySize,
      ),
    );
    return { pool, app };
  };
  const historyOff = await jobs(0, 'history_off');
  const historyOn = await jobs(undefined, 'history_on');
  await historyOn.app.locks.pause(PAUSED_JOB);
  // A job's tick as the scheduler makes it, through its occurrence driver when it has one (the
  // catch-up check after each run lives there, which runLockedJob does not go through).
  const ticked = async (label: string, policy: JobPolicy): Promise<Omit<Cycler, 'name'>> => {
    const pool = setup.pool(`bench-${label}`, 2);
    const store = new PostgresLockStore(pool.pool, { table: `bench_${label}`, logger: false });
    const app = await setup.app(startTickedJobs({ store }, [GROWTH_JOB], TTL, policy));
    const next = clockOccurrences();
    return {
      pool,
      cycle: async () => {
        const result = await app.tick(GROWTH_JOB, next());
        if (!result.ran) throw new Error(`${label}: ${result.reason}`);
      },
    };
  };
  const tick = await ticked('tick', {});
  const catchUp = await ticked('tick_catch_up', { catchUp: 'latest' });

  const storeCycle = async (plain: boolean): Promise<void> => {
    const owner = token();
    const acquired = await store.acquire({
      name: plain ? 'plain' : 'per-run',
      token: owner,
      ttl: TTL,
      instanceId: INSTANCE_ID,
      plain,
    });
    if (!acquired.acquired) throw new Error(`store: ${acquired.reason}`);
    const outcome = { status: 'completed' as const, durationMs: 0, finishedAt: Date.now() };
    await store.release(
      plain ? { name: 'plain', token: owner, plain } : { name: 'per-run', token: owner, outcome },
    );
  };
  let scheduledAt = Date.now() - 3_600_000;
  const occurrences = (app: LockApp, job: string, expected: string): (() => Promise<void>) => {
    const next = occurrenceRunner(app, job);
    return async () => {
      const result = await next();
      if (result !== expected) throw new Error(`${job}: ${result}, not ${expected}`);
    };
  };
  return [
    {
      name: 'floor (INSERT … ON CONFLICT DO NOTHING + owner-checked DELETE)',
      pool: floorPool,
      cycle: async () => {
        if (!(await floorCycle(floorPool.pool, 'per-run'))) throw new Error('floor: held');
      },
    },
    {
      name: 'floor, its statements prepared',
      pool: preparedFloorPool,
      cycle: async () => {
        if (!(await preparedFloorCycle(preparedFloorPool.pool, 'per-run'))) {
          throw new Error('prepared floor: held');
        }
      },
    },
    { name: 'PostgresLockStore alone, plain', pool: storePool, cycle: () => storeCycle(true) },
    {
      name: 'PostgresLockStore alone, recorded (no Nest, no run())',
      pool: storePool,
      cycle: () => storeCycle(false),
    },
    {
      name: 'nestjs-cron-lock run(), plain lock',
      pool: runPool,
      cycle: async () => {
        const result = await runApp.locks.run('per-run', { ttl: TTL }, async () => undefined);
        if (!result.ran) throw new Error(`run(): ${result.reason}`);
      },
    },
    {
      name: 'nestjs-cron-lock run() with scheduledAt (cron path)',
      pool: cronPool,
      cycle: async () => {
        scheduledAt += 1;
        const result = await cronApp.locks.run(
          'per-run',
          { ttl: TTL, scheduledAt },
          async () => undefined,
        );
        if (!result.ran) throw new Error(`run() with scheduledAt: ${result.reason}`);
      },
    },
    {
      name: 'growth, cron path: @LockedCron job, historySize 0',
      pool: historyOff.pool,
      cycle: occurrences(historyOff.app, GROWTH_JOB, 'ran'),
    },
    {
      name: 'growth, cron path: @LockedCron job, history on (100)',
      pool: historyOn.pool,
      cycle: occurrences(historyOn.app, GROWTH_JOB, 'ran'),
    },
    {
      name: "growth, cron path: @LockedCron job, overlap 'queue', history on",
      pool: historyOn.pool,
      cycle: occurrences(historyOn.app, QUEUE_JOB, 'ran'),
    },
    {
      name: 'growth, cron path: @LockedCron job paused (each occurrence skipped), history on',
      pool: historyOn.pool,
      cycle: occurrences(historyOn.app, PAUSED_JOB, 'paused'),
    },
    { name: 'growth, cron path: a @LockedCron tick, history on', ...tick },
    { name: "growth, cron path: a @LockedCron tick, catchUp: 'latest', history on", ...catchUp },
  ];
}

/**
 * PostgreSQL: `PostgresLockStore` against its raw floor, per run and in the tick storm, on a
 * private PostgreSQL started for the benchmark (initdb into a temporary directory).
 */
export async function postgresScenario(config: BenchConfig): Promise<Section> {
  const rounds = config.quick ? 2 : 15;
  // Quick: enough to run every row once through; the full run gives the figures.
  const cycles = config.quick ? 25 : 300;
  const warmup = config.quick ? 10 : 200;
  const jobs = config.quick ? 100 : 1_000;
  const stormRounds = config.quick ? 1 : 7;

  const server = await startPostgresServer();
  const pools: pg.Pool[] = [];
  const apps: LockApp[] = [];
  const newPool = (name: string, max: number): BenchPool => {
    const made = benchPool(server.url, name, max);
    pools.push(made.pool);
    return made;
  };
  const admin = newPool('bench-admin', 1).pool;
  const setup: Setup = {
    admin,
    pool: newPool,
    app: async <T extends LockApp>(starting: Promise<T>): Promise<T> => {
      const app = await starting;
      apps.push(app);
      return app;
    },
  };
  try {
    await admin.query(
      `CREATE TABLE ${FLOOR_TABLE} (name text PRIMARY KEY, token text NOT NULL, expires_at timestamptz NOT NULL)`,
    );

    // Per run: one pooled connection each (and one listening), sequential cycles, interleaved.
    const cyclers = await perRunCyclers(setup);
    const samples = new Map<Cycler, Sample[]>(cyclers.map((cycler) => [cycler, []]));
    for (const cycler of cyclers) {
      await timeCycles(cycler, warmup, admin);
    }
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < cyclers.length; i++) {
        const cycler = cyclers[(i + round) % cyclers.length];
        samples.get(cycler)!.push(await timeCycles(cycler, cycles, admin));
      }
      config.progress(`postgres per-run: round ${round + 1}/${rounds}`);
    }
    const series = (cycler: Cycler, field: keyof Sample): number[] =>
      samples.get(cycler)!.map((sample) => sample[field]);
    const floorRates = series(cyclers[0], 'rate');
    const ratio = (cycler: Cycler): Summary =>
      summarizeRounds(pairedRatios(series(cycler, 'rate'), floorRates));

    const storm = await tickStorm(setup, jobs, stormRounds, config);

    const rows = [
      ...cyclers.map((cycler) => {
        const rate = summarizeRounds(series(cycler, 'rate'));
        return [
          `per run: ${cycler.name}`,
          `${formatSummary(rate)} cycles/s`,
          formatNumber(1000 / rate.median, 3),
          formatRatio(ratio(cycler)),
          formatSummary(summarizeRounds(series(cycler, 'cpuMicros')), 1),
          formatSummary(summarizeRounds(series(cycler, 'backendMicros')), 1),
          formatNumber(summarizeRounds(series(cycler, 'roundTrips')).median, 2),
        ];
      }),
      ...storm.rows,
    ];
    const [, preparedFloor, , , plainRun, cronRun, historyOff, historyOn, queued, paused] = cyclers;
    const [tick, catchUp] = cyclers.slice(-2);
    const vsPrepared = (cycler: Cycler): string =>
      formatRatio(
        summarizeRounds(pairedRatios(series(cycler, 'rate'), series(preparedFloor, 'rate'))),
      );
    const trips = (cycler: Cycler): number => summarizeRounds(series(cycler, 'roundTrips')).median;
    const targets: Target[] = [
      {
        label: 'plain lock: run() >= 0.93x its floor',
        measured: formatRatio(ratio(plainRun)),
        met: ratio(plainRun).median >= 0.93,
      },
      {
        label: 'cron path: run() with scheduledAt >= 0.85x its floor',
        measured: formatRatio(ratio(cronRun)),
        met: ratio(cronRun).median >= 0.85,
      },
      {
        label: "growth: history on, overlap 'queue', a paused job cost no extra round trip",
        measured:
          `${trips(historyOn).toFixed(2)}, ${trips(queued).toFixed(2)}, ` +
          `${trips(paused).toFixed(2)} vs ${trips(historyOff).toFixed(2)} with history off`,
        met: Math.max(trips(historyOn), trips(queued), trips(paused)) <= trips(historyOff),
      },
      {
        label: 'growth: catch-up costs a tick no extra round trip',
        measured: `${trips(catchUp).toFixed(2)} vs ${trips(tick).toFixed(2)} without catch-up`,
        met: trips(catchUp) <= trips(tick),
      },
      storm.growth,
    ];
    return {
      title: '6. PostgreSQL store',
      method:
        `PostgresLockStore on a private PostgreSQL ${await serverVersion(admin)} (started for the ` +
        'benchmark; fsync off). Per run: sequential acquire+release cycles on one name, one ' +
        'pooled connection each (an app with jobs keeps a second one listening for triggers), ' +
        `${rounds} interleaved rounds of ${cycles} cycles, ratios per round against the ` +
        "floor's rate in the same round. `run()` goes through the public API in a Nest " +
        'application context; the growth rows run the occurrences of `@LockedCron` jobs ' +
        '(hourly, consecutive occurrences) through their runner with `runLockedJob`, and the ' +
        'tick rows tick a job as the scheduler does, through its occurrence driver (sections 1 ' +
        "and 2's ticks: every second, occurrences a minute ahead of the clock). Client CPU " +
        "is this process's `process.cpuUsage()` per cycle; backend µs is the CPU time of the " +
        "contender's own PostgreSQL server processes (`/proc/<pid>/schedstat`), which load on " +
        'the machine hardly affects; round trips are the statements sent, counted by the client. ' +
        `Tick storm: ${INSTANCES} instances, each a Nest app with its own pool of ` +
        `${STORM_POOL_SIZE} connections, all running ${formatNumber(jobs)} jobs of one ` +
        `occurrence at once (${stormRounds} rounds; operationTimeout ` +
        `${STORM_OPERATION_TIMEOUT_MS / 1000} s, since every attempt waits its turn for a ` +
        'pooled connection). The floor is one `INSERT … ON CONFLICT DO NOTHING` and one ' +
        'owner-checked `DELETE` per lock, unnamed statements, on the same pools. The storm rows ' +
        'of `@LockedCron` ticks play the same instances with one feature on each: every job a ' +
        'method of its own, ticked through its occurrence driver; their pools are one ' +
        'connection larger per app, which keeps one listening for triggers.',
      headers: [
        'Row',
        'Median (min–max)',
        'ms per cycle or attempt',
        'vs floor (min–max)',
        'Client CPU µs/cycle (min–max)',
        'Backend µs/cycle (min–max)',
        'Round trips per cycle',
      ],
      rows,
      targets,
      notes: [
        'A plain lock (`run()` without `scheduledAt` or `record: true`, on a name no job uses) ' +
          'sends one upsert that takes the row if its lock is free or expired and hands out the ' +
          'fencing token, and one owner-checked update that frees it: no occurrence marker, ' +
          'holder, outcome, history or sweep.',
        'The store prepares its statements (parsed and planned once per connection), the ' +
          "floor does not: against the floor's statements prepared, per round, `run()` on a " +
          `plain lock stands at ${vsPrepared(plainRun)} and with \`scheduledAt\` at ` +
          `${vsPrepared(cronRun)}.`,
        'What the cron path does beyond the floor, each run: the acquire locks the job row, ' +
          'checks the occurrence marker, the pause and the expiry on the database clock, and ' +
          'hands out a fencing token; the release records the outcome and the history entry, ' +
          'frees the lock with an owner check, and (at most once a second per store) sweeps a ' +
          'few expired rows. The growth rows ' +
          'show what history, overlap and pause add to that: the same statements, no more.',
        "The growth rows' occurrences are the schedule's own, each right after the one " +
          'before; their check for occurrences missed between two claims is given the answer a ' +
          'tick in order finds without a step of the cron (none), as a scheduled tick does, ' +
          'instead of the step `runLockedJob` would take for occurrences it cannot tell are in ' +
          'order. They also go through `runLockedJob` (its lookup of the job, its checks), which ' +
          'a tick does not: compare them with each other, and their round trips and backend µs ' +
          'with the cron-path row.',
      ],
    };
  } finally {
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
    await server.stop();
  }
}

/**
 * The tick storm's rows with `@LockedCron` jobs, each with one feature on: every job a method of
 * its own, ticked through its occurrence driver as the scheduler does (see JobsApp.tick).
 */
const STORM_VARIANTS: ReadonlyArray<{
  name: string;
  table: string;
  policy: JobPolicy;
  paused?: true;
}> = [
  { name: 'a @LockedCron tick', table: 'bench_storm_tick', policy: {} },
  {
    name: "a @LockedCron tick, catchUp: 'latest'",
    table: 'bench_storm_catch_up',
    policy: { catchUp: 'latest' },
  },
  {
    name: "a @LockedCron tick, overlap: 'queue'",
    table: 'bench_storm_queue',
    policy: { overlap: 'queue' },
  },
  {
    name: 'a @LockedCron tick, jobs paused (no run)',
    table: 'bench_storm_paused',
    policy: {},
    paused: true,
  },
];

/** One row of the tick storm. */
interface Stormer {
  name: string;
  pools: BenchPool[];
  /** Runs a round must make (checked: the benchmark stops otherwise); absent, not checked. */
  runs?: (jobs: number) => number;
  storm(jobs: number, round: number): Promise<{ runs: number; ms: number }>;
}

/** The growth rows of the storm: INSTANCES apps per variant, on pools the variants share. */
async function growthStormers(setup: Setup, jobs: number): Promise<Stormer[]> {
  const names = Array.from({ length: jobs }, (_, job) => `storm-${job}`);
  // Each app with jobs keeps one connection of its pool listening for triggers: the pools are
  // as much larger, so the storm finds as many connections as the other rows do.
  const pools = Array.from({ length: INSTANCES }, (_, i) =>
    setup.pool(`bench-storm-growth-${i}`, STORM_POOL_SIZE + STORM_VARIANTS.length),
  );
  const stormers: Stormer[] = [];
  for (const variant of STORM_VARIANTS) {
    const apps: JobsApp[] = await Promise.all(
      pools.map((pool) =>
        setup.app(
          startTickedJobs(
            {
              store: new PostgresLockStore(pool.pool, {
                table: variant.table,
                operationTimeout: STORM_OPERATION_TIMEOUT_MS,
                logger: false,
              }),
            },
            names,
            TTL,
            variant.policy,
          ),
        ),
      ),
    );
    if (variant.paused) {
      for (const name of names) {
        await apps[0].locks.pause(name);
      }
    }
    const next = clockOccurrences();
    stormers.push({
      name: variant.name,
      pools,
      runs: (n) => (variant.paused ? 0 : n),
      storm: (n) => {
        const scheduledAt = next();
        return storm(n, async (job, instance) => {
          const result = await apps[instance].tick(names[job], scheduledAt);
          return result.ran;
        });
      },
    });
  }
  return stormers;
}

/** The tick storm: INSTANCES instances, each with its own pool, all trying every job at once. */
async function tickStorm(
  setup: Setup,
  jobs: number,
  stormRounds: number,
  config: BenchConfig,
): Promise<{ rows: string[][]; growth: Target }> {
  const floorPools = Array.from({ length: INSTANCES }, (_, i) =>
    setup.pool(`bench-storm-floor-${i}`, STORM_POOL_SIZE),
  );
  const storePools = Array.from({ length: INSTANCES }, (_, i) =>
    setup.pool(`bench-storm-store-${i}`, STORM_POOL_SIZE),
  );
  const stormApps = await Promise.all(
    storePools.map((pool) =>
      setup.app(
        startLockApp({
          store: new PostgresLockStore(pool.pool, {
            table: 'bench_storm',
            // The storm queues every job's acquire on the pool at once; the default 2 s bound
            // (pool wait included) would turn the tail of the queue into store-error skips on a
            // loaded machine, and this row measures throughput, not that bound.
            operationTimeout: STORM_OPERATION_TIMEOUT_MS,
            logger: false,
          }),
        }),
      ),
    ),
  );
  const occurrence0 = Date.UTC(2025, 0, 1);
  const stormers: Stormer[] = [
    {
      name: 'floor (INSERT … ON CONFLICT DO NOTHING + owner-checked DELETE)',
      pools: floorPools,
      storm: (n: number, round: number) =>
        storm(n, (job, instance) => floorCycle(floorPools[instance].pool, `${round}:storm-${job}`)),
    },
    {
      name: 'nestjs-cron-lock run() on PostgresLockStore',
      pools: storePools,
      runs: (n: number) => n,
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
    ...(await growthStormers(setup, jobs)),
  ];
  const stormMs = new Map<Stormer, number[]>(stormers.map((stormer) => [stormer, []]));
  const perAttempt = new Map<Stormer, { cpu: number[]; backend: number[]; trips: number[] }>(
    stormers.map((stormer) => [stormer, { cpu: [], backend: [], trips: [] }]),
  );
  for (const stormer of stormers) {
    await stormer.storm(Math.min(jobs, 100), -1);
  }
  const attempts = jobs * INSTANCES;
  for (let round = 0; round < stormRounds; round++) {
    for (let i = 0; i < stormers.length; i++) {
      const stormer = stormers[(i + round) % stormers.length];
      const names = stormer.pools.map((pool) => pool.name);
      const queries = (): number => stormer.pools.reduce((sum, pool) => sum + pool.queries(), 0);
      const backendBefore = await backendMicros(setup.admin, names);
      const queriesBefore = queries();
      const cpu = process.cpuUsage();
      const outcome = await stormer.storm(jobs, round);
      const used = process.cpuUsage(cpu);
      const backend = (await backendMicros(setup.admin, names)) - backendBefore;
      if (stormer.runs && outcome.runs !== stormer.runs(jobs)) {
        throw new Error(
          `postgres tick storm, ${stormer.name}: ran ${outcome.runs} times for ${jobs} jobs ` +
            `of one occurrence, not ${stormer.runs(jobs)}`,
        );
      }
      stormMs.get(stormer)!.push(outcome.ms);
      const sample = perAttempt.get(stormer)!;
      sample.cpu.push((used.user + used.system) / attempts);
      sample.backend.push(backend / attempts);
      sample.trips.push((queries() - queriesBefore) / attempts);
    }
    config.progress(`postgres tick storm: round ${round + 1}/${stormRounds}`);
  }
  const floorStorm = stormMs.get(stormers[0])!;
  const trips = (stormer: Stormer): number =>
    summarizeRounds(perAttempt.get(stormer)!.trips).median;
  const [tick, catchUp, queue, paused] = stormers.slice(2);
  return {
    growth: {
      label: "growth (tick storm): catch-up, overlap 'queue', paused jobs cost no extra round trip",
      measured:
        `round trips per attempt: ${trips(catchUp).toFixed(2)}, ${trips(queue).toFixed(2)}, ` +
        `${trips(paused).toFixed(2)} vs ${trips(tick).toFixed(2)} for the plain tick`,
      met: Math.max(trips(catchUp), trips(queue), trips(paused)) <= trips(tick),
    },
    rows: stormers.map((stormer) => {
      const ms = summarizeRounds(stormMs.get(stormer)!);
      const sample = perAttempt.get(stormer)!;
      return [
        `tick storm ${formatNumber(jobs)} × ${INSTANCES}: ${stormer.name}`,
        `${formatSummary(ms)} ms until all settled`,
        formatNumber(ms.median / attempts, 3),
        // Faster is better: the floor's time over this contender's, round by round.
        formatRatio(summarizeRounds(pairedRatios(floorStorm, stormMs.get(stormer)!))),
        formatSummary(summarizeRounds(sample.cpu), 1),
        formatSummary(summarizeRounds(sample.backend), 1),
        formatNumber(summarizeRounds(sample.trips).median, 2),
      ];
    }),
  };
}

async function serverVersion(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ server_version: string }>('SHOW server_version');
  return rows[0]?.server_version.split(' ')[0] ?? 'unknown';
}
