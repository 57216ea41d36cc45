import type { Redis } from 'ioredis';
import { startLockApp, type LockApp } from '../support/apps.js';
import {
  commandStats,
  connectedClient,
  diffCalls,
  formatCalls,
  RawLock,
  roundTrips,
  totalCalls,
  type CommandCalls,
} from '../support/redis.js';
import type { BenchConfig, Section, Target } from '../support/section.js';
import {
  formatNumber,
  formatRatio,
  formatSummary,
  pairedRatios,
  summarizeRounds,
} from '../support/stats.js';
import { quit } from './per-run.js';

const TTL = 30_000;
/**
 * One process plays the whole fleet here, so a reply waits behind the replies of every other
 * instance in the process; the 2 s default would turn that wait into store errors that 100
 * separate processes would not have.
 */
const COMMAND_TIMEOUT = 120_000;

/** One fleet: `instances` clients that each try every job of one occurrence at one instant. */
interface Fleet {
  name: string;
  /** Resolves with the runs per job once every attempt settled. */
  tick(jobs: number, round: number): Promise<Uint32Array>;
  close(): Promise<void>;
}

/** Starts every (job, instance) attempt in one synchronous loop; counts the runs per job. */
async function fire(
  jobs: number,
  instances: number,
  attempt: (job: number, instance: number, ran: () => void) => Promise<void>,
): Promise<Uint32Array> {
  const runs = new Uint32Array(jobs);
  const pending: Promise<void>[] = [];
  for (let job = 0; job < jobs; job++) {
    const ran = () => {
      runs[job] += 1;
    };
    for (let instance = 0; instance < instances; instance++) {
      pending.push(attempt(job, instance, ran));
    }
  }
  await Promise.all(pending);
  return runs;
}

async function moduleFleet(url: string, instances: number): Promise<Fleet> {
  // Started a few at a time: a hundred Nest apps booting at once on a loaded machine would
  // spend their connect timeouts waiting for each other.
  const apps: LockApp[] = [];
  while (apps.length < instances) {
    const batch = Math.min(10, instances - apps.length);
    apps.push(
      ...(await Promise.all(
        Array.from({ length: batch }, () =>
          startLockApp({
            redis: { url, commandTimeout: COMMAND_TIMEOUT },
            keyPrefix: 'bench-fleet',
          }),
        ),
      )),
    );
  }
  const occurrence0 = Date.UTC(2025, 0, 1);
  return {
    name: 'nestjs-cron-lock run() with scheduledAt',
    tick: (jobs, round) =>
      fire(jobs, instances, async (job, instance, ran) => {
        const result = await apps[instance].locks.run(
          `fleet-${job}`,
          { ttl: TTL, scheduledAt: occurrence0 + (round + 1) * 60_000 },
          async () => ran(),
        );
        if (!result.ran && result.reason !== 'held' && result.reason !== 'tick-done') {
          throw new Error(`fleet scale: an attempt was skipped as ${result.reason}`);
        }
      }),
    close: async () => {
      await Promise.all(apps.map((app) => app.close()));
    },
  };
}

async function floorFleet(url: string, instances: number): Promise<Fleet> {
  const clients: Redis[] = [];
  while (clients.length < instances) {
    clients.push(await connectedClient(url));
  }
  const locks = clients.map((client) => new RawLock(client));
  await Promise.all(locks.map((lock) => lock.load()));
  return {
    name: 'floor (SET NX PX + EVALSHA del)',
    tick: (jobs, round) =>
      fire(jobs, instances, async (job, instance, ran) => {
        const key = `bench-fleet-floor:${round}:${jobs}:{${job}}`;
        const token = await locks[instance].acquire(key, TTL);
        if (token !== null) {
          ran();
          await locks[instance].release(key, token);
        }
      }),
    close: async () => {
      await Promise.all(clients.map(quit));
    },
  };
}

interface ServerSample {
  cpuMs: number;
  usedMemory: number;
}

async function serverSample(client: Redis): Promise<ServerSample> {
  const text = await client.info();
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:(\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    cpuMs: (field('used_cpu_user') + field('used_cpu_sys')) * 1000,
    usedMemory: field('used_memory'),
  };
}

interface RoundResult {
  settledMs: number;
  clientCpuMs: number;
  serverCpuMs: number;
  peakMemory: number;
  keptMemory: number;
  roundTrips: number;
  calls: CommandCalls;
  runs: Uint32Array;
}

/** One tick of one fleet, with the server's CPU and memory around it. */
async function measureTick(
  fleet: Fleet,
  stats: Redis,
  jobs: number,
  round: number,
): Promise<RoundResult> {
  const callsBefore = await commandStats(stats);
  const before = await serverSample(stats);
  const tripsBefore = roundTrips.value;
  // The server's memory is sampled while the tick is in flight: INFO's peak cannot be reset.
  let peak = before.usedMemory;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, (await serverSample(stats)).usedMemory);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const runs = await fleet.tick(jobs, round);
  const settledMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  sampling = false;
  await sampler;
  const tripsAfter = roundTrips.value;
  const after = await serverSample(stats);
  return {
    settledMs,
    clientCpuMs: (used.user + used.system) / 1000,
    serverCpuMs: after.cpuMs - before.cpuMs,
    peakMemory: Math.max(peak, after.usedMemory) - before.usedMemory,
    keptMemory: after.usedMemory - before.usedMemory,
    roundTrips: tripsAfter - tripsBefore,
    calls: diffCalls(await commandStats(stats), callsBefore),
    runs,
  };
}

/** Throws unless every job of the tick ran exactly once: correctness, not a timing. */
function checkOncePerOccurrence(fleet: Fleet, result: RoundResult, jobs: number): void {
  const wrong = result.runs.findIndex((count) => count !== 1);
  if (wrong !== -1) {
    throw new Error(
      `fleet scale: ${fleet.name} ran job ${wrong} of ${jobs} ${result.runs[wrong]} times on ` +
        'one occurrence (expected exactly once)',
    );
  }
}

const KB = 1024;

/**
 * Scenario: a fleet of `instances` clients (each a Nest app for the module, a plain client for
 * the floor) × `jobs` jobs due on one tick, in interleaved rounds; then, with `--fleet-10x`, ten
 * times the jobs once each. Every occurrence must run exactly once, in every round.
 */
export async function fleetScaleScenario(config: BenchConfig): Promise<Section> {
  const instances = config.quick ? 20 : 100;
  const jobs = config.quick ? 100 : 500;
  const rounds = config.quick ? 1 : 3;
  const stats = await connectedClient(config.redisUrl);
  const fleets = [
    await floorFleet(config.redisUrl, instances),
    await moduleFleet(config.redisUrl, instances),
  ];
  const results = new Map<Fleet, RoundResult[]>(fleets.map((fleet) => [fleet, []]));
  const grown = new Map<Fleet, RoundResult>();
  try {
    for (const fleet of fleets) {
      await fleet.tick(Math.min(jobs, 20), -1);
    }
    for (let round = 0; round < rounds; round++) {
      const order = fleets.map((_, i) => fleets[(i + round) % fleets.length]);
      for (const fleet of order) {
        const result = await measureTick(fleet, stats, jobs, round);
        checkOncePerOccurrence(fleet, result, jobs);
        results.get(fleet)!.push(result);
      }
      config.progress(`fleet scale: round ${round + 1}/${rounds}`);
    }
    if (config.fleet10x === true) {
      for (const fleet of fleets) {
        const result = await measureTick(fleet, stats, jobs * 10, rounds);
        checkOncePerOccurrence(fleet, result, jobs * 10);
        grown.set(fleet, result);
        config.progress(`fleet scale: ${fleet.name}, ${jobs * 10} jobs`);
      }
    }
  } finally {
    for (const fleet of fleets) {
      await fleet.close();
    }
    await quit(stats);
  }

  const floorSettled = results.get(fleets[0])!.map((result) => result.settledMs);
  const row = (fleet: Fleet, measured: RoundResult[], jobCount: number): string[] => {
    const occurrences = jobCount * measured.length;
    const calls: CommandCalls = {};
    let trips = 0;
    for (const result of measured) {
      trips += result.roundTrips;
      for (const [name, count] of Object.entries(result.calls)) {
        calls[name] = (calls[name] ?? 0) + count;
      }
    }
    const pick = (value: (result: RoundResult) => number) => summarizeRounds(measured.map(value));
    return [
      `${fleet.name}, ${formatNumber(jobCount)} jobs`,
      formatSummary(
        pick((result) => result.settledMs),
        0,
      ),
      jobCount === jobs
        ? formatRatio(
            summarizeRounds(
              pairedRatios(
                measured.map((result) => result.settledMs),
                floorSettled,
              ),
            ),
          )
        : '–',
      formatSummary(
        pick((result) => result.clientCpuMs),
        0,
      ),
      formatSummary(
        pick((result) => result.serverCpuMs),
        0,
      ),
      formatSummary(
        pick((result) => (result.serverCpuMs * 1000) / jobCount),
        1,
      ),
      formatSummary(
        pick((result) => result.peakMemory / KB),
        0,
      ),
      formatSummary(
        pick((result) => result.keptMemory / KB),
        0,
      ),
      (trips / occurrences).toFixed(2),
      (totalCalls(calls) / occurrences).toFixed(2),
      formatCalls(calls, occurrences),
    ];
  };
  const rows = fleets.map((fleet) => row(fleet, results.get(fleet)!, jobs));
  for (const fleet of fleets) {
    const result = grown.get(fleet);
    if (result) {
      rows.push(row(fleet, [result], jobs * 10));
    }
  }

  const module = results.get(fleets[1])!;
  const settledRatio = summarizeRounds(
    pairedRatios(
      module.map((result) => result.settledMs),
      floorSettled,
    ),
  );
  const moduleTrips =
    module.reduce((sum, result) => sum + result.roundTrips, 0) / (jobs * module.length);
  const targets: Target[] = [
    {
      label: `nestjs-cron-lock runs each of ${formatNumber(jobs)} occurrences exactly once per round`,
      measured: 'checked every round (the run stops otherwise)',
      met: true,
    },
    {
      label: "nestjs-cron-lock settles within 1.2x the floor's time",
      measured: formatRatio(settledRatio),
      met: settledRatio.median <= 1.2,
    },
    {
      label: `round trips per occurrence <= instances + 1 (${instances + 1})`,
      measured: moduleTrips.toFixed(2),
      met: moduleTrips <= instances + 1,
    },
  ];
  return {
    title: '7. Fleet scale',
    method:
      `${instances} instances × ${formatNumber(jobs)} jobs due on one tick ` +
      `(${formatNumber(instances * jobs)} attempts): each instance is a Nest app with its own ` +
      'client for the module (its `commandTimeout` raised, since one process plays the whole ' +
      'fleet), a plain ioredis client for the floor, all in this process against ' +
      `one redis-server; ${rounds} interleaved round(s), each a new occurrence` +
      (config.fleet10x === true
        ? `, then ${formatNumber(jobs * 10)} jobs once per contender`
        : '') +
      '. Every job must run exactly once per occurrence (checked, not timed). "Settled": from ' +
      "the first attempt until every attempt returned, the winners' releases included. Redis CPU " +
      'is the `used_cpu_user` + `used_cpu_sys` delta of `INFO`; peak memory is the highest ' +
      '`used_memory` sampled every 10 ms during the tick, over its value before; kept memory is ' +
      'what is still used after it (the module keeps one state hash per job: occurrence marker, ' +
      'fencing token, last success). Round trips are counted client-side; Redis commands come ' +
      'from `INFO commandstats` (commands inside scripts included), both per occurrence.',
    headers: [
      'Contender',
      'Settled ms (min–max)',
      'Settled vs floor',
      'Client CPU ms',
      'Redis CPU ms',
      'Redis CPU µs/occ.',
      'Redis peak +KB',
      'Redis kept +KB',
      'Round trips/occ.',
      'Redis cmds/occ.',
      'Commands per occurrence',
    ],
    rows,
    targets,
    notes: [
      ...(config.fleet10x === true
        ? []
        : [
            'Ten times the jobs (`npm run bench -- --only fleet-scale --fleet-10x`) is not part ' +
              'of this run: played by one process, 500,000 attempts in flight at once take ' +
              'several minutes and most of them go to garbage collection in the client.',
          ]),
      'The floor keys each occurrence afresh and has no occurrence marker: an instance that ' +
        'arrived after the winner released would run the job again. Here all attempts arrive ' +
        'together, so its run count shows only what SET NX decided.',
    ],
  };
}
