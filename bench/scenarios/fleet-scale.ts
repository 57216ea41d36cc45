import type { Redis } from 'ioredis';
import {
  commandStats,
  connectedClient,
  diffCalls,
  formatCalls,
  roundTrips,
  totalCalls,
  type CommandCalls,
} from '../support/redis.js';
import type { BenchConfig, Section, Target } from '../support/section.js';
import {
  formatNumber,
  formatRatio,
  formatSummary,
  median,
  pairedRatios,
  summarizeRounds,
} from '../support/stats.js';
import {
  CONTENDER_NAMES,
  quitClient,
  startLocalFleet,
  type ContenderKind,
  type LocalFleet,
} from './fleet-members.js';
import { FleetProcesses, type TickOutcome } from './fleet-processes.js';

/** One contender's whole fleet, however it is played. */
interface Fleet {
  kind: ContenderKind;
  tick(jobs: number, round: number): Promise<TickOutcome>;
}

/** The fleet played by this process: its CPU time and round trips are the fleet's. */
function inThisProcess(kind: ContenderKind, local: LocalFleet): Fleet {
  return {
    kind,
    tick: async (jobs, round) => {
      const trips = roundTrips.value;
      const cpu = process.cpuUsage();
      const started = performance.now();
      const runs = await local.tick(jobs, round);
      const settledMs = performance.now() - started;
      const used = process.cpuUsage(cpu);
      return {
        settledMs,
        runs,
        roundTrips: roundTrips.value - trips,
        clientCpuMs: (used.user + used.system) / 1000,
      };
    },
  };
}

/** The fleet played by worker processes, which report their own figures. */
function inWorkers(kind: ContenderKind, pool: FleetProcesses): Fleet {
  return { kind, tick: (jobs, round) => pool.tick(kind, jobs, round) };
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

interface RoundResult extends TickOutcome {
  serverCpuMs: number;
  peakMemory: number;
  keptMemory: number;
  calls: CommandCalls;
}

/**
 * One tick of one fleet, with the server's CPU, memory and commands around it: all read on the
 * server, so they hold whichever processes play the fleet.
 */
async function measureTick(
  fleet: Fleet,
  stats: Redis,
  jobs: number,
  round: number,
): Promise<RoundResult> {
  const callsBefore = await commandStats(stats);
  const before = await serverSample(stats);
  // The server's memory is sampled while the tick is in flight: INFO's peak cannot be reset.
  let peak = before.usedMemory;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, (await serverSample(stats)).usedMemory);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  let outcome: TickOutcome;
  try {
    outcome = await fleet.tick(jobs, round);
  } finally {
    sampling = false;
    await sampler;
  }
  const after = await serverSample(stats);
  return {
    ...outcome,
    serverCpuMs: after.cpuMs - before.cpuMs,
    peakMemory: Math.max(peak, after.usedMemory) - before.usedMemory,
    keptMemory: after.usedMemory - before.usedMemory,
    calls: diffCalls(await commandStats(stats), callsBefore),
  };
}

/**
 * Throws unless every job of the tick ran fleet-wide: exactly once for the module (correctness,
 * not a timing), at least once for the floor. The floor has no occurrence marker: across
 * processes, an attempt that reaches the server after the winner released takes the lock again
 * and runs the job a second time; those are counted, not failed.
 */
function checkOncePerOccurrence(fleet: Fleet, result: RoundResult, jobs: number): void {
  const wrong = result.runs.findIndex(
    (count) => count === 0 || (count > 1 && fleet.kind === 'module'),
  );
  if (wrong !== -1) {
    throw new Error(
      `fleet scale: ${CONTENDER_NAMES[fleet.kind]} ran job ${wrong} of ${jobs} ` +
        `${result.runs[wrong]} times on one occurrence (expected exactly once)`,
    );
  }
}

/** Jobs of the tick that ran more than once (only the floor may). */
function ranAgain(result: RoundResult): number {
  return result.runs.reduce((sum, count) => sum + (count > 1 ? 1 : 0), 0);
}

/** Every contender's measured rounds of one part of the scenario. */
type PartResults = Map<ContenderKind, RoundResult[]>;

/**
 * A warm-up tick, then `rounds` interleaved rounds (order rotated each round), each a new
 * occurrence: `nextRound` hands out occurrence numbers never used before in this run.
 */
async function playRounds(
  fleets: Fleet[],
  stats: Redis,
  jobs: number,
  rounds: number,
  nextRound: () => number,
  progress: (round: number) => void,
): Promise<PartResults> {
  const warmUp = nextRound();
  for (const fleet of fleets) {
    const outcome = await fleet.tick(Math.min(jobs, 20), warmUp);
    if (outcome.runs.some((count) => count === 0 || (count > 1 && fleet.kind === 'module'))) {
      throw new Error(
        `fleet scale: ${CONTENDER_NAMES[fleet.kind]} warm-up missed or repeated a job`,
      );
    }
  }
  const results: PartResults = new Map(fleets.map((fleet) => [fleet.kind, []]));
  for (let index = 0; index < rounds; index++) {
    const round = nextRound();
    const order = fleets.map((_, i) => fleets[(i + index) % fleets.length]);
    for (const fleet of order) {
      const result = await measureTick(fleet, stats, jobs, round);
      checkOncePerOccurrence(fleet, result, jobs);
      results.get(fleet.kind)!.push(result);
    }
    progress(index);
  }
  return results;
}

const KB = 1024;
/**
 * Worker processes for ten times the jobs: each carries a quarter of the fleet, so no event loop
 * or heap holds more than a quarter of the attempts in flight.
 */
const WORKER_PROCESSES = 4;
/** Rounds of ten times the jobs, per contender, interleaved. */
const GROWN_ROUNDS = 2;

/** How the cost grew from `jobs` to ten times as many, in the same worker processes. */
function growthNote(split: PartResults, grown: PartResults, jobs: number): string {
  const perContender = (['floor', 'module'] as const).map((kind) => {
    const at = (part: PartResults, value: (result: RoundResult) => number) =>
      median(part.get(kind)!.map(value));
    const settled = at(grown, (r) => r.settledMs) / at(split, (r) => r.settledMs);
    const cpu = (part: PartResults, jobCount: number) =>
      at(part, (r) => (r.clientCpuMs * 1000) / jobCount);
    const redis = (part: PartResults, jobCount: number) =>
      at(part, (r) => (r.serverCpuMs * 1000) / jobCount);
    return (
      `${CONTENDER_NAMES[kind]} settles in ${settled.toFixed(1)}x the time ` +
      `(client CPU ${formatNumber(cpu(split, jobs))} → ${formatNumber(cpu(grown, jobs * 10))} µs ` +
      `per occurrence, Redis CPU ${formatNumber(redis(split, jobs))} → ` +
      `${formatNumber(redis(grown, jobs * 10))} µs)`
    );
  });
  return `Ten times the jobs in the same worker processes (medians): ${perContender.join('; ')}.`;
}

/**
 * Scenario: a fleet of `instances` instances (each a Nest app for the module, a plain client for
 * the floor) × `jobs` jobs due on one tick, in interleaved rounds, all in this process; then,
 * with `--fleet-10x`, ten times the jobs, the fleet split over worker processes. Every
 * occurrence must run exactly once fleet-wide, in every round.
 */
export async function fleetScaleScenario(config: BenchConfig): Promise<Section> {
  const instances = config.quick ? 20 : 100;
  const jobs = config.quick ? 100 : 500;
  const rounds = config.quick ? 1 : 3;
  const grow = config.fleet10x === true && !config.quick;
  const stats = await connectedClient(config.redisUrl);
  let occurrence = 0;
  const nextRound = () => occurrence++;
  const locals: LocalFleet[] = [];
  let pool: FleetProcesses | undefined;
  let base: PartResults;
  let split: PartResults | undefined;
  let grown: PartResults | undefined;
  try {
    locals.push(
      await startLocalFleet('floor', config.redisUrl, instances),
      await startLocalFleet('module', config.redisUrl, instances),
    );
    base = await playRounds(
      [inThisProcess('floor', locals[0]), inThisProcess('module', locals[1])],
      stats,
      jobs,
      rounds,
      nextRound,
      (index) => config.progress(`fleet scale: round ${index + 1}/${rounds}`),
    );
    // Idle from here on: closed before the workers start, so they do not share the machine
    // with a hundred idle apps.
    await Promise.all(locals.splice(0).map((local) => local.close()));
    if (grow) {
      pool = await FleetProcesses.start(
        config.redisUrl,
        WORKER_PROCESSES,
        instances / WORKER_PROCESSES,
      );
      const fleets = [inWorkers('floor', pool), inWorkers('module', pool)];
      // The same jobs again, in the workers: what ten times the jobs is compared with.
      split = await playRounds(fleets, stats, jobs, rounds, nextRound, (index) =>
        config.progress(`fleet scale: round ${index + 1}/${rounds}, ${WORKER_PROCESSES} processes`),
      );
      grown = await playRounds(fleets, stats, jobs * 10, GROWN_ROUNDS, nextRound, (index) =>
        config.progress(
          `fleet scale: ${formatNumber(jobs * 10)} jobs, round ${index + 1}/${GROWN_ROUNDS}, ` +
            `${WORKER_PROCESSES} processes`,
        ),
      );
    }
  } finally {
    await Promise.all(locals.map((local) => local.close()));
    await pool?.close();
    await quitClient(stats);
  }

  const row = (
    kind: ContenderKind,
    part: PartResults,
    jobCount: number,
    where: string,
  ): string[] => {
    const measured = part.get(kind)!;
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
      `${CONTENDER_NAMES[kind]}, ${formatNumber(jobCount)} jobs, ${where}`,
      formatSummary(
        pick((result) => result.settledMs),
        0,
      ),
      formatRatio(
        summarizeRounds(
          pairedRatios(
            measured.map((result) => result.settledMs),
            part.get('floor')!.map((result) => result.settledMs),
          ),
        ),
      ),
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
      formatSummary(pick(ranAgain), 0),
      (trips / occurrences).toFixed(2),
      (totalCalls(calls) / occurrences).toFixed(2),
      formatCalls(calls, occurrences),
    ];
  };
  const kinds: ContenderKind[] = ['floor', 'module'];
  const inWorkersLabel = `${WORKER_PROCESSES} processes`;
  const rows = kinds.map((kind) => row(kind, base!, jobs, 'one process'));
  if (split && grown) {
    rows.push(
      ...kinds.map((kind) => row(kind, split!, jobs, inWorkersLabel)),
      ...kinds.map((kind) => row(kind, grown!, jobs * 10, inWorkersLabel)),
    );
  }

  const module = base!.get('module')!;
  const settledRatio = summarizeRounds(
    pairedRatios(
      module.map((result) => result.settledMs),
      base!.get('floor')!.map((result) => result.settledMs),
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
      'client for the module (its `commandTimeout` raised, since one process plays many ' +
      'instances), a plain ioredis client for the floor, against one redis-server; ' +
      `${rounds} interleaved round(s), each a new occurrence, the whole fleet in this process` +
      (grow
        ? `; then the same fleet split over ${WORKER_PROCESSES} worker processes of ` +
          `${instances / WORKER_PROCESSES} instances each (forked with the TypeScript loader ` +
          `the benchmark runs under), first with ${formatNumber(jobs)} jobs (${rounds} rounds), ` +
          `then with ${formatNumber(jobs * 10)} (${GROWN_ROUNDS} rounds, ` +
          `${formatNumber(instances * jobs * 10)} attempts)`
        : '') +
      '. The module must run every job exactly once per occurrence, fleet-wide (checked, not ' +
      'timed: the run stops otherwise). "Settled": from the first attempt until every attempt ' +
      "returned, the winners' releases included" +
      (grow
        ? '; with worker processes, each boots its apps and clients and reports ready, collects ' +
          'its garbage before every tick (untimed) and says so, then all get "go" at once and ' +
          'settled runs from "go" until the last worker reported its attempts settled. Client ' +
          "CPU and round trips are then the workers' own, summed, and runs per job are summed " +
          'across workers before the check'
        : '') +
      '. Redis CPU is the `used_cpu_user` + `used_cpu_sys` delta of `INFO`; peak memory is ' +
      'the highest `used_memory` sampled every 10 ms during the tick, over its value before; ' +
      'kept memory is what is still used after it (the module keeps one state hash per job: ' +
      'occurrence marker, fencing token, last success). Round trips are counted client-side; ' +
      'Redis commands come from `INFO commandstats` on the server (commands inside scripts ' +
      'included), both per occurrence.',
    headers: [
      'Contender',
      'Settled ms (min–max)',
      'Settled vs floor',
      'Client CPU ms',
      'Redis CPU ms',
      'Redis CPU µs/occ.',
      'Redis peak +KB',
      'Redis kept +KB',
      'Jobs run more than once',
      'Round trips/occ.',
      'Redis cmds/occ.',
      'Commands per occurrence',
    ],
    rows,
    targets,
    notes: [
      ...(split && grown
        ? [growthNote(split, grown, jobs)]
        : [
            'Ten times the jobs is part of the full run (`npm run bench`) and of ' +
              '`npm run bench -- --only fleet-scale --fleet-10x`, not of this one (quick, or ' +
              '`--only` without the flag).',
          ]),
      'The rows with the targets play the whole fleet in one process, as a first reading of ' +
        "the fleet's cost: every attempt's `SET` is written before any reply is read, so the " +
        'floor too decides each occurrence once. Split over processes, an attempt that ' +
        "reaches the server after the winner released takes the floor's lock again and runs " +
        'the job a second time (the floor keys each occurrence afresh and has no occurrence ' +
        'marker; "Jobs run more than once"), and processes take a larger share of a loaded ' +
        "machine's cores than one process does, so times are compared within a setup, not " +
        'across. Ten times the jobs in one process (500,000 attempts in flight in one heap) ' +
        'spends most of its time in garbage collection in the client: it is played by the ' +
        'workers only.',
    ],
  };
}
