import { ExecutionError, Redlock } from '@sesamecare-oss/redlock';
import type { Redis } from 'ioredis';
import { Mutex } from 'redis-semaphore';
import type { CronLockService } from 'nestjs-cron-lock';
import { startLockApp, type LockApp } from '../support/apps.js';
import { clockOccurrences, startJobsApp, type JobPolicy } from '../support/jobs-app.js';
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
import type { BenchConfig, Section } from '../support/section.js';
import { formatRatio, formatSummary, pairedRatios, summarizeRounds } from '../support/stats.js';
import { quit } from './per-run.js';

const INSTANCES = 4;
const TTL = 30_000;

interface StormOutcome {
  runs: number;
  /** ms from the first call to the last acquire decision (won or skipped). */
  decidedMs: number;
  /** ms from the first call until every call settled, winners' releases included. */
  settledMs: number;
  /** CPU ms this process used meanwhile (every instance's client work; not the server's). */
  cpuMs: number;
}

/** N instances that all try to run every job of one occurrence at the same instant. */
interface Stormer {
  name: string;
  storm(jobs: number, round: number): Promise<StormOutcome>;
  close(): Promise<void>;
  /** Runs each round must make (checked: the run stops otherwise); absent, not checked. */
  runsPerRound?: (jobs: number) => number;
}

/**
 * Starts every (job, instance) attempt in one synchronous loop, job by job and instance by
 * instance, and times them all from one start.
 */
async function storm(
  jobs: number,
  attempt: (job: number, instance: number, decided: (won: boolean) => void) => Promise<void>,
): Promise<StormOutcome> {
  let runs = 0;
  let lastDecision = 0;
  const decided = (won: boolean) => {
    lastDecision = performance.now();
    if (won) {
      runs += 1;
    }
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let job = 0; job < jobs; job++) {
    for (let instance = 0; instance < INSTANCES; instance++) {
      pending.push(attempt(job, instance, decided));
    }
  }
  await Promise.all(pending);
  const settled = performance.now();
  const used = process.cpuUsage(cpu);
  return {
    runs,
    decidedMs: lastDecision - started,
    settledMs: settled - started,
    cpuMs: (used.user + used.system) / 1000,
  };
}

/** `run()` with a `scheduledAt` as {@link moduleStormer} does, with one feature of a job on. */
interface ModuleVariant {
  name: string;
  keyPrefix: string;
  /** Module options besides `redis`, `keyPrefix` and `logger`. */
  module?: { historySize?: number };
  /** Done once with one instance's service before the rounds, e.g. pausing every job. */
  prepare?: (locks: CronLockService, names: string[]) => Promise<unknown>;
  /** Every occurrence is answered `paused` (by the first instance) or `tick-done`: no run. */
  paused?: boolean;
}

const PLAIN_CRON: ModuleVariant = { name: 'nestjs-cron-lock run()', keyPrefix: 'bench-storm' };

async function moduleStormer(
  url: string,
  jobs: number,
  variant: ModuleVariant = PLAIN_CRON,
): Promise<Stormer> {
  const apps: LockApp[] = await Promise.all(
    Array.from({ length: INSTANCES }, () =>
      startLockApp({ redis: url, keyPrefix: variant.keyPrefix, ...variant.module }),
    ),
  );
  await variant.prepare?.(
    apps[0].locks,
    Array.from({ length: jobs }, (_, job) => `storm-${job}`),
  );
  // Each round is a new occurrence of the same 1,000 jobs, as a cron tick would be.
  const occurrence0 = Date.UTC(2025, 0, 1);
  return {
    name: variant.name,
    runsPerRound: (count) => (variant.paused ? 0 : count),
    storm: (jobs, round) =>
      storm(jobs, async (job, instance, decided) => {
        const result = await apps[instance].locks.run(
          `storm-${job}`,
          { ttl: TTL, scheduledAt: occurrence0 + (round + 1) * 60_000 },
          async () => decided(true),
        );
        if (!result.ran) {
          decided(false);
        }
      }),
    close: async () => {
      await Promise.all(apps.map((app) => app.close()));
    },
  };
}

/**
 * The tick of a `@LockedCron` job on each of the instances (4 Nest apps, each with every job),
 * as the scheduler makes it, through the job's occurrence driver when `policy` gives it one. Each
 * round is a new occurrence that follows the clock (see clockOccurrences).
 */
async function tickStormer(
  url: string,
  jobs: number,
  name: string,
  keyPrefix: string,
  policy: JobPolicy,
): Promise<Stormer> {
  const names = Array.from({ length: jobs }, (_, job) => `storm-${job}`);
  const apps = await Promise.all(
    Array.from({ length: INSTANCES }, () =>
      startJobsApp({ redis: url, keyPrefix }, names, TTL, policy),
    ),
  );
  const next = clockOccurrences();
  return {
    name,
    runsPerRound: (count) => count,
    storm: (count, _round) => {
      const scheduledAt = next();
      return storm(count, async (job, instance, decided) => {
        const app = apps[instance];
        app.onRun = () => decided(true);
        const result = await app.tick(names[job], scheduledAt);
        if (!result.ran) {
          decided(false);
        }
      });
    },
    close: async () => {
      await Promise.all(apps.map((app) => app.close()));
    },
  };
}

async function clients(url: string): Promise<Redis[]> {
  return Promise.all(Array.from({ length: INSTANCES }, () => connectedClient(url)));
}

async function floorStormer(url: string): Promise<Stormer> {
  const redis = await clients(url);
  const locks = redis.map((client) => new RawLock(client));
  await Promise.all(locks.map((lock) => lock.load()));
  return {
    name: 'floor (SET NX PX + EVALSHA del)',
    storm: (jobs, round) =>
      storm(jobs, async (job, instance, decided) => {
        const key = `bench-floor:${round}:storm-${job}`;
        const token = await locks[instance].acquire(key, TTL);
        decided(token !== null);
        if (token !== null) {
          await locks[instance].release(key, token);
        }
      }),
    close: async () => {
      await Promise.all(redis.map(quit));
    },
  };
}

async function redlockStormer(url: string): Promise<Stormer> {
  const redis = await clients(url);
  const redlocks = redis.map((client) => new Redlock([client], { retryCount: 0 }));
  return {
    name: '@sesamecare-oss/redlock',
    storm: (jobs, round) =>
      storm(jobs, async (job, instance, decided) => {
        let lock;
        try {
          lock = await redlocks[instance].acquire([`bench-redlock:${round}:storm-${job}`], TTL);
        } catch (error) {
          if (!(error instanceof ExecutionError)) {
            throw error;
          }
          decided(false);
          return;
        }
        decided(true);
        await lock.release();
      }),
    close: async () => {
      await Promise.all(redis.map(quit));
    },
  };
}

async function semaphoreStormer(url: string): Promise<Stormer> {
  const redis = await clients(url);
  return {
    name: 'redis-semaphore Mutex',
    storm: (jobs, round) =>
      storm(jobs, async (job, instance, decided) => {
        const mutex = new Mutex(redis[instance], `bench-semaphore:${round}:storm-${job}`, {
          lockTimeout: TTL,
          acquireAttemptsLimit: 1,
        });
        const won = await mutex.tryAcquire();
        decided(won);
        if (won) {
          await mutex.release();
        }
      }),
    close: async () => {
      await Promise.all(redis.map(quit));
    },
  };
}

/** The storm's rows of the cron path with one feature on, as in section 1. */
async function growthStormers(
  url: string,
  jobs: number,
): Promise<Record<'tick' | 'catchUp' | 'queue' | 'paused' | 'resumed' | 'historyOff', Stormer>> {
  const pauseAll = (locks: CronLockService, names: string[]) =>
    Promise.all(names.map((name) => locks.pause(name)));
  // Started together: each app waits on Redis for much of its start.
  const [tick, catchUp, queue, paused, resumed, historyOff] = await Promise.all([
    tickStormer(url, jobs, 'a @LockedCron tick', 'bench-storm-tick', {}),
    tickStormer(url, jobs, "a @LockedCron tick, catchUp: 'latest'", 'bench-storm-catch-up', {
      catchUp: 'latest',
    }),
    tickStormer(url, jobs, "a @LockedCron tick, overlap: 'queue'", 'bench-storm-queue', {
      overlap: 'queue',
    }),
    moduleStormer(url, jobs, {
      name: 'run(), jobs paused',
      keyPrefix: 'bench-storm-paused',
      prepare: pauseAll,
      paused: true,
    }),
    moduleStormer(url, jobs, {
      name: 'run(), jobs paused then resumed',
      keyPrefix: 'bench-storm-resumed',
      prepare: async (locks, names) => {
        await pauseAll(locks, names);
        await Promise.all(names.map((name) => locks.resume(name)));
      },
    }),
    moduleStormer(url, jobs, {
      name: 'run(), history off (historySize: 0)',
      keyPrefix: 'bench-storm-history-off',
      module: { historySize: 0 },
    }),
  ]);
  return { tick, catchUp, queue, paused, resumed, historyOff };
}

interface Measured {
  decided: number[];
  cpu: number[];
  settled: number[];
  runs: number[];
  roundTrips: number;
  calls: CommandCalls;
  attempts: number;
}

/**
 * Scenario 2: one occurrence of many jobs across 4 instances (4 apps, 4 clients) at one
 * instant. The module must run each job exactly once; the run count is checked every round.
 */
export async function tickStormScenario(config: BenchConfig): Promise<Section> {
  const jobs = config.quick ? 50 : 1_000;
  const rounds = config.quick ? 1 : 9;
  const stats = await connectedClient(config.redisUrl);
  const stormers = [
    await floorStormer(config.redisUrl),
    await moduleStormer(config.redisUrl, jobs),
    await redlockStormer(config.redisUrl),
    await semaphoreStormer(config.redisUrl),
  ];
  const growth = await growthStormers(config.redisUrl, jobs);
  stormers.push(
    growth.tick,
    growth.catchUp,
    growth.queue,
    growth.paused,
    growth.resumed,
    growth.historyOff,
  );
  const measured = new Map<Stormer, Measured>(
    stormers.map((stormer) => [
      stormer,
      { decided: [], cpu: [], settled: [], runs: [], roundTrips: 0, calls: {}, attempts: 0 },
    ]),
  );
  try {
    for (const stormer of stormers) {
      await stormer.storm(Math.min(jobs, 100), -1);
    }
    for (let round = 0; round < rounds; round++) {
      const order = stormers.map((_, i) => stormers[(i + round) % stormers.length]);
      for (const stormer of order) {
        const record = measured.get(stormer)!;
        const callsBefore = await commandStats(stats);
        const tripsBefore = roundTrips.value;
        const outcome = await stormer.storm(jobs, round);
        const tripsAfter = roundTrips.value;
        const calls = diffCalls(await commandStats(stats), callsBefore);
        record.decided.push(outcome.decidedMs);
        record.settled.push(outcome.settledMs);
        record.cpu.push(outcome.cpuMs);
        record.runs.push(outcome.runs);
        record.roundTrips += tripsAfter - tripsBefore;
        record.attempts += jobs;
        for (const [name, count] of Object.entries(calls)) {
          record.calls[name] = (record.calls[name] ?? 0) + count;
        }
        const expected = stormer.runsPerRound?.(jobs);
        if (expected !== undefined && outcome.runs !== expected) {
          throw new Error(
            `tick storm: ${stormer.name} ran ${outcome.runs} times for ${jobs} jobs of one ` +
              `occurrence (expected ${expected})`,
          );
        }
      }
      config.progress(`tick storm: round ${round + 1}/${rounds}`);
    }
  } finally {
    for (const stormer of stormers) {
      await stormer.close();
    }
    await quit(stats);
  }

  const floor = measured.get(stormers[0])!;
  const rows = stormers.map((stormer) => {
    const record = measured.get(stormer)!;
    const runs = [...new Set(record.runs)].join('/');
    return [
      stormer.name,
      formatSummary(summarizeRounds(record.decided), 1),
      formatSummary(summarizeRounds(record.settled), 1),
      formatRatio(summarizeRounds(pairedRatios(record.settled, floor.settled))),
      formatSummary(summarizeRounds(record.cpu), 1),
      runs,
      (record.roundTrips / record.attempts).toFixed(2),
      (totalCalls(record.calls) / record.attempts).toFixed(2),
      formatCalls(record.calls, record.attempts),
    ];
  });
  const module = measured.get(stormers[1])!;
  const moduleRatio = summarizeRounds(pairedRatios(module.settled, floor.settled));
  // Growth: round trips per occurrence of each feature's row against the run() row's (equal
  // attempts), and each row's settle time against the row of the same path without the feature.
  const tripsPerOccurrence = (stormer: Stormer): number =>
    measured.get(stormer)!.roundTrips / measured.get(stormer)!.attempts;
  const features: Array<[string, Stormer, Stormer]> = [
    ['catch-up', growth.catchUp, growth.tick],
    ['overlap queue', growth.queue, growth.tick],
    ['resumed', growth.resumed, stormers[1]],
    ['history off', growth.historyOff, stormers[1]],
    ['paused', growth.paused, stormers[1]],
  ];
  const moduleTrips = module.roundTrips;
  const noExtraTrip =
    measured.get(growth.tick)!.roundTrips === moduleTrips &&
    features.every(([, stormer]) =>
      stormer === growth.paused
        ? measured.get(stormer)!.roundTrips <= moduleTrips
        : measured.get(stormer)!.roundTrips === moduleTrips,
    );
  const cpuOver = (stormer: Stormer, base: Stormer): string =>
    `${(summarizeRounds(measured.get(stormer)!.cpu).median - summarizeRounds(measured.get(base)!.cpu).median).toFixed(1)} ms`;
  const settledStep = (from: Stormer, to: Stormer): string =>
    formatRatio(
      summarizeRounds(pairedRatios(measured.get(to)!.settled, measured.get(from)!.settled)),
    );
  const peerRatios = [stormers[2], stormers[3]].map((peer) =>
    summarizeRounds(pairedRatios(measured.get(peer)!.settled, floor.settled)),
  );
  return {
    title: '2. Tick storm',
    method:
      `${jobs.toLocaleString('en-US')} jobs on one occurrence across ${INSTANCES} instances ` +
      `(${INSTANCES} Nest apps with their own clients, or ${INSTANCES} clients), every attempt ` +
      `started at one instant; ${rounds} interleaved rounds, each a new occurrence. "Decided": ` +
      'until the last acquire answer (won or skipped); "settled": until every call returned, ' +
      "the winners' releases included. Round trips are counted client-side (commands sent by " +
      'every ioredis client of the process); Redis commands come from `INFO commandstats` ' +
      'deltas, which include the commands run inside Lua scripts. Both are per occurrence of ' +
      `one job (all ${INSTANCES} instances together). Client CPU is this process's CPU time ` +
      'per round (all instances; the Redis server not included). nestjs-cron-lock writes the ' +
      'script calls one client starts in one burst together (one socket write; still one ' +
      'command and one reply each); the floor and the peers write each command on its own, ' +
      'as ioredis does without auto-pipelining.',
    headers: [
      'Contender',
      'Decided ms (min–max)',
      'Settled ms (min–max)',
      'Settled vs floor',
      'Client CPU ms (min–max)',
      'Runs/round',
      'Round trips/occ.',
      'Redis cmds/occ.',
      'Commands per occurrence',
    ],
    rows,
    targets: [
      {
        label: `nestjs-cron-lock runs exactly ${jobs.toLocaleString('en-US')} jobs per round`,
        measured: `runs per round: ${module.runs.join(', ')}`,
        met: module.runs.every((runs) => runs === jobs),
      },
      {
        label: "nestjs-cron-lock settles within 1.2x the floor's time",
        measured: formatRatio(moduleRatio),
        met: moduleRatio.median <= 1.2,
      },
      {
        label: 'nestjs-cron-lock settles ahead of both peers',
        measured: `${moduleRatio.median.toFixed(2)}x vs ${peerRatios.map((p) => p.median.toFixed(2) + 'x').join(', ')}`,
        met: peerRatios.every((peer) => moduleRatio.median < peer.median),
      },
      {
        label: 'growth: catch-up, overlap queue, pause and history cost no extra round trip',
        measured:
          `round trips per occurrence: run() ${tripsPerOccurrence(stormers[1]).toFixed(2)}, ` +
          `@LockedCron tick ${tripsPerOccurrence(growth.tick).toFixed(2)}, ` +
          features
            .map(
              ([label, stormer]) =>
                `${label} ${tripsPerOccurrence(stormer).toFixed(2)}` +
                (stormer === growth.paused ? ' (acquisitions only)' : '') +
                (measured.get(stormer)!.roundTrips > moduleTrips
                  ? ` (${measured.get(stormer)!.roundTrips - moduleTrips} more in all)`
                  : ''),
            )
            .join(', '),
        met: noExtraTrip,
      },
    ],
    notes: [
      'The floor and the peers key each round afresh and have no occurrence marker: a late ' +
        'instance that arrives after the winner released would run the job again. Here all ' +
        'attempts arrive together, so their run counts show only what SET NX decided.',
      'The rows after the peers are the cron path with one feature on, as in section 1: a ' +
        "`@LockedCron('* * * * * *')` job's tick on each instance (every instance has all the " +
        'jobs; the occurrence picked by the benchmark, a minute ahead of the clock, so its claim checks ' +
        'for missed occurrences as a tick in order does), plain, with ' +
        "`catchUp: 'latest'` and with `overlap: 'queue'`; and `run()` with `scheduledAt` on jobs " +
        'paused with `pause()` (the first instance to ask claims the occurrence, answered ' +
        '`paused`, and records it in the history; the others are answered `tick-done`), paused ' +
        'then resumed, and with the history off (`historySize: 0`). Every row of the module ' +
        'is checked every round: each job runs exactly once (a paused one never). Settled ' +
        'against the row of the same path without the feature, per round: catch-up ' +
        `${settledStep(growth.tick, growth.catchUp)}, overlap queue ` +
        `${settledStep(growth.tick, growth.queue)} (against the plain tick, itself ` +
        `${settledStep(stormers[1], growth.tick)} of \`run()\`); resumed ` +
        `${settledStep(stormers[1], growth.resumed)}, history off ` +
        `${settledStep(stormers[1], growth.historyOff)}, paused ` +
        `${settledStep(stormers[1], growth.paused)} (against \`run()\`). Client CPU per round ` +
        `over the plain tick: catch-up ${cpuOver(growth.catchUp, growth.tick)}, overlap queue ` +
        `${cpuOver(growth.queue, growth.tick)} (after every run, catch-up checks on the ` +
        'instance that ran it whether the next occurrence is due; see section 1).',
    ],
  };
}
