import { Redlock } from '@sesamecare-oss/redlock';
import type { Redis } from 'ioredis';
import { hostname } from 'node:os';
import { LOCK_CLIENT_DEFAULTS, RedisLockStore, type CronLockService } from 'nestjs-cron-lock';
import { Mutex } from 'redis-semaphore';
import { STATE_TTL_MS } from '../../lib/cron-lock.constants.js';
import { evalshaBatched } from '../../lib/stores/redis/ioredis/turn-batch.js';
import { startLockApp } from '../support/apps.js';
import { clockOccurrences, startJobsApp, type JobPolicy } from '../support/jobs-app.js';
import {
  cheapToken,
  commandStats,
  connectedClient,
  diffCalls,
  formatCalls,
  RAW_RELEASE_LUA,
  RawLock,
  roundTrips,
  serverMicros,
  totalCalls,
  type CommandCalls,
} from '../support/redis.js';
import type { BenchConfig, Section } from '../support/section.js';
import {
  formatNumber,
  formatRatio,
  formatSummary,
  pairedRatios,
  summarizeRounds,
  type Summary,
} from '../support/stats.js';

const TTL = 30_000;
/** The instance id the rows that call the store or its call shape pass, as `run()` would. */
const INSTANCE_ID = `${hostname()}:${process.pid}:bench`;

/** One way to take and free a lock, sequentially, as fast as it goes. */
export interface Cycler {
  name: string;
  cycle(): Promise<void>;
  close(): Promise<void>;
}

const noop = async (): Promise<void> => undefined;

/**
 * `run()` on a plain lock (no `scheduledAt`, a name no job uses): the lean path, one small script
 * (`SET NX PX` and a fencing token from the server clock) and one compare-and-delete.
 */
export async function moduleCycler(url: string): Promise<Cycler> {
  const { locks, close } = await startLockApp({ redis: url, keyPrefix: 'bench-per-run' });
  return {
    name: 'nestjs-cron-lock run(), plain lock',
    async cycle() {
      const result = await locks.run('per-run', { ttl: TTL }, noop);
      if (!result.ran) {
        throw new Error(`run() did not run: ${result.reason}`);
      }
    },
    close,
  };
}

/**
 * `run()` with a `scheduledAt`, a new occurrence every cycle: the cron path a `@LockedCron` tick
 * takes, with every record (occurrence marker, fencing token, holder, last success).
 */
export async function cronPathCycler(url: string): Promise<Cycler> {
  const { locks, close } = await startLockApp({ redis: url, keyPrefix: 'bench-per-run-cron' });
  // In the past, so that no occurrence is ever ahead of the server's clock; one ms apart.
  let scheduledAt = Date.now() - 3_600_000;
  return {
    name: 'nestjs-cron-lock run() with scheduledAt (cron path)',
    async cycle() {
      scheduledAt += 1;
      const result = await locks.run('per-run', { ttl: TTL, scheduledAt }, noop);
      if (!result.ran) {
        throw new Error(`run() did not run: ${result.reason}`);
      }
    },
    close,
  };
}

/** A variant of the cron path with one feature of a job on. */
interface CronVariant {
  name: string;
  keyPrefix: string;
  /** Module options besides `redis`, `keyPrefix` and `logger`. */
  module?: { historySize?: number };
  /** Done once before the cycles, e.g. pausing the job. */
  prepare?: (locks: CronLockService) => Promise<unknown>;
  /** What each run must answer: it runs, or it is refused as paused. */
  expect: 'ran' | 'paused';
}

/**
 * `run()` with a `scheduledAt` as {@link cronPathCycler}, with one of the features a job can have
 * on: paused (each occurrence answered `paused`, the first instance recording it in the history),
 * resumed after a pause, or the history off (`historySize: 0`).
 */
export async function cronVariantCycler(url: string, variant: CronVariant): Promise<Cycler> {
  const { locks, close } = await startLockApp({
    redis: url,
    keyPrefix: variant.keyPrefix,
    ...variant.module,
  });
  await variant.prepare?.(locks);
  let scheduledAt = Date.now() - 3_600_000;
  return {
    name: variant.name,
    async cycle() {
      scheduledAt += 1;
      const result = await locks.run('per-run', { ttl: TTL, scheduledAt }, noop);
      const answer = result.ran ? 'ran' : result.reason;
      if (answer !== variant.expect) {
        throw new Error(`${variant.name}: run() answered ${answer}, not ${variant.expect}`);
      }
    },
    close,
  };
}

/**
 * A `@LockedCron` job's tick, as the scheduler makes it (through the job's occurrence driver when
 * it has `catchUp` or an overlap policy), each tick a new occurrence that follows the clock.
 */
export async function tickCycler(
  url: string,
  name: string,
  keyPrefix: string,
  policy: JobPolicy,
): Promise<Cycler> {
  const app = await startJobsApp({ redis: url, keyPrefix }, ['per-run'], TTL, policy);
  const next = clockOccurrences();
  return {
    name,
    async cycle() {
      const result = await app.tick('per-run', next());
      if (!result.ran) {
        throw new Error(`${name}: the tick did not run: ${result.reason}`);
      }
    },
    close: () => app.close(),
  };
}

/** The rows of the cron path with one feature on, each measured like every other row. */
async function growthCyclers(url: string): Promise<{
  tick: Cycler;
  catchUp: Cycler;
  queue: Cycler;
  paused: Cycler;
  resumed: Cycler;
  historyOff: Cycler;
}> {
  // Started together: each app waits on Redis for much of its start.
  const [tick, catchUp, queue, paused, resumed, historyOff] = await Promise.all([
    tickCycler(url, 'cron path: a @LockedCron tick', 'bench-per-run-tick', {}),
    tickCycler(url, "cron path: a @LockedCron tick, catchUp: 'latest'", 'bench-per-run-catch-up', {
      catchUp: 'latest',
    }),
    tickCycler(url, "cron path: a @LockedCron tick, overlap: 'queue'", 'bench-per-run-queue', {
      overlap: 'queue',
    }),
    cronVariantCycler(url, {
      name: 'cron path: run() with scheduledAt, job paused (answers paused)',
      keyPrefix: 'bench-per-run-paused',
      prepare: (locks) => locks.pause('per-run'),
      expect: 'paused',
    }),
    cronVariantCycler(url, {
      name: 'cron path: run() with scheduledAt, job paused then resumed',
      keyPrefix: 'bench-per-run-resumed',
      prepare: async (locks) => {
        await locks.pause('per-run');
        await locks.resume('per-run');
      },
      expect: 'ran',
    }),
    cronVariantCycler(url, {
      name: 'cron path: run() with scheduledAt, history off (historySize: 0)',
      keyPrefix: 'bench-per-run-history-off',
      module: { historySize: 0 },
      expect: 'ran',
    }),
  ]);
  return { tick, catchUp, queue, paused, resumed, historyOff };
}

export async function floorCycler(url: string): Promise<Cycler> {
  const client = await connectedClient(url);
  const raw = new RawLock(client);
  await raw.load();
  return {
    name: 'floor (SET NX PX + EVALSHA del)',
    async cycle() {
      const token = await raw.acquire('bench-floor:per-run', TTL);
      if (token === null) {
        throw new Error('floor: lock unexpectedly held');
      }
      await raw.release('bench-floor:per-run', token);
    },
    close: () => quit(client),
  };
}

/**
 * The same floor on a client with the settings the module gives the clients it creates
 * (`LOCK_CLIENT_DEFAULTS`: no offline queue, no resend, a 2 s `commandTimeout`, …), its two
 * commands sent the way the module sends its scripts (the timeout kept by one timer, see
 * DeadlineCommand). This row shows what those safety settings cost by themselves, so that the
 * module's own overhead is not confused with them. With `ioredisTimer`, the commands go through
 * ioredis' own methods, which arm and clear a timer per command: the cost the module avoids.
 */
export async function floorDefaultsCycler(url: string, ioredisTimer = false): Promise<Cycler> {
  const client = await connectedClient(url, LOCK_CLIENT_DEFAULTS);
  const raw = new RawLock(client, !ioredisTimer);
  await raw.load();
  const key = ioredisTimer ? 'bench-floor-ioredis-timer:per-run' : 'bench-floor-defaults:per-run';
  return {
    name: ioredisTimer
      ? "floor on the module client settings, ioredis' timer per command"
      : 'floor on the module client settings',
    async cycle() {
      const token = await raw.acquire(key, TTL);
      if (token === null) {
        throw new Error('floor: lock unexpectedly held');
      }
      await raw.release(key, token);
    },
    close: () => quit(client),
  };
}

/**
 * The module's store without the module: `RedisLockStore.acquire` + `release` with an outcome,
 * as `run()` calls them, on a client the store creates (the module's settings). Against the
 * module's own row, it shows what the run's client-side work costs; against the floor's Lua in
 * the module's call shape, what the scripts' own Redis work costs.
 */
export async function storeCycler(url: string): Promise<Cycler> {
  const store = new RedisLockStore(url, { keyPrefix: 'bench-store', logger: false });
  return {
    name: 'RedisLockStore alone (no Nest, no run())',
    async cycle() {
      const token = cheapToken();
      const acquired = await store.acquire({
        name: 'per-run',
        token,
        ttl: TTL,
        instanceId: INSTANCE_ID,
      });
      if (!acquired.acquired) {
        throw new Error(`store: lock unexpectedly ${acquired.reason}`);
      }
      const outcome = { status: 'completed' as const, durationMs: 0, finishedAt: Date.now() };
      await store.release({ name: 'per-run', token, outcome });
    },
    close: () => store.close(),
  };
}

/** The floor's acquire written as a script that answers in the module's reply shape. */
const FLOOR_ACQUIRE_IN_MODULE_SHAPE =
  "if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return '0 held ' end " +
  "return '1 1 '";

/**
 * The floor's work (SET NX PX, then compare-and-delete) sent the way the module sends its own:
 * two script calls with the module's two keys, its arguments (owner token, ttl, occurrence,
 * state ttl, instance id; then token, hold, outcome, duration, end time, state ttl) and its
 * text reply, on the module's client settings, through the module's own sending path
 * (`evalshaBatched`). It does none of the module's extra Redis work,
 * so the distance from here to the floor is what the call shape itself costs, and no change
 * to the Lua alone can bring the module above this row.
 */
export async function floorInModuleShapeCycler(url: string): Promise<Cycler> {
  const client = await connectedClient(url, LOCK_CLIENT_DEFAULTS);
  const acquireSha = (await client.script('LOAD', FLOOR_ACQUIRE_IN_MODULE_SHAPE)) as string;
  const releaseSha = (await client.script('LOAD', RAW_RELEASE_LUA)) as string;
  const keys = ['bench-shape:{per-run}:lock', 'bench-shape:{per-run}:state'];
  return {
    name: "floor's Lua in the module's call shape",
    async cycle() {
      const token = cheapToken();
      const reply = await evalshaBatched(client, acquireSha, keys, [
        token,
        TTL,
        '',
        STATE_TTL_MS,
        INSTANCE_ID,
      ]);
      if (String(reply).split(' ')[0] !== '1') {
        throw new Error('floor in module shape: lock unexpectedly held');
      }
      await evalshaBatched(client, releaseSha, keys, [
        token,
        0,
        'completed',
        0,
        Date.now(),
        STATE_TTL_MS,
      ]);
    },
    close: () => quit(client),
  };
}

/**
 * The least Redis work that still keeps the design's promises at acquisition: the occurrence
 * marker is checked (guarantee 1), the lock taken with `SET NX PX`, a fencing token handed out as
 * max(stored + 1, server clock in µs) and stored (guarantee 6), and the state hash given an
 * expiry when it is created (guarantee 3: no key without one). Nothing else: no holder, no
 * `exp_at`, no last success, and an integer reply (the fencing token, 0 when held, -1 when the
 * occurrence is done).
 *
 * KEYS[1] lock · KEYS[2] state · ARGV: token, ttl ms, scheduledAt ms or '', state ttl ms
 */
const LEANEST_ACQUIRE = `
local state = redis.call('HMGET', KEYS[2], 'tick', 'fence')
if ARGV[3] ~= '' and state[1] and tonumber(state[1]) >= tonumber(ARGV[3]) then return -1 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local now = redis.call('TIME')
local fence = now[1] * 1000000 + now[2]
local stored = tonumber(state[2])
if stored and stored >= fence then fence = stored + 1 end
local created
if ARGV[3] ~= '' then
  created = redis.call('HSET', KEYS[2], 'fence', string.format('%.0f', fence), 'tick', ARGV[3])
else
  created = redis.call('HSET', KEYS[2], 'fence', string.format('%.0f', fence))
end
if created > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return fence`;

/**
 * A lower bound on what any implementation of the design pays over the floor: the leanest
 * acquire script above and the floor's own compare-and-delete for release (owner-checked, and
 * it leaves the marker alone: guarantee 7), on a plain client through ioredis' own methods.
 * Against the module's row it shows what the rest costs (holder and last success for `inspect`
 * and alerts, the outcome record, the module's client settings and `run()`); against the floor,
 * how close to it any design-keeping lock can get on this server.
 */
export async function leanestCycler(url: string): Promise<Cycler> {
  const client = await connectedClient(url);
  const acquireSha = (await client.script('LOAD', LEANEST_ACQUIRE)) as string;
  const releaseSha = (await client.script('LOAD', RAW_RELEASE_LUA)) as string;
  const [lock, state] = ['bench-leanest:{per-run}:lock', 'bench-leanest:{per-run}:state'];
  return {
    name: 'leanest scripts that keep the design (marker, fence, expiry)',
    async cycle() {
      const token = cheapToken();
      const fence = await client.evalsha(acquireSha, 2, lock, state, token, TTL, '', STATE_TTL_MS);
      if (Number(fence) <= 0) {
        throw new Error('leanest: lock unexpectedly held');
      }
      await client.evalsha(releaseSha, 1, lock, token);
    },
    close: () => quit(client),
  };
}

export async function redlockCycler(url: string): Promise<Cycler> {
  const client = await connectedClient(url);
  const redlock = new Redlock([client], { retryCount: 0 });
  return {
    name: '@sesamecare-oss/redlock',
    async cycle() {
      const lock = await redlock.acquire(['bench-redlock:per-run'], TTL);
      await lock.release();
    },
    close: () => quit(client),
  };
}

export async function semaphoreCycler(url: string): Promise<Cycler> {
  const client = await connectedClient(url);
  return {
    name: 'redis-semaphore Mutex',
    async cycle() {
      const mutex = new Mutex(client, 'bench-semaphore:per-run', {
        lockTimeout: TTL,
        acquireAttemptsLimit: 1,
      });
      if (!(await mutex.tryAcquire())) {
        throw new Error('redis-semaphore: lock unexpectedly held');
      }
      await mutex.release();
    },
    close: () => quit(client),
  };
}

export async function quit(client: Redis): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/** Wall time (ms) and this process's CPU time (µs) of `cycles` sequential cycles. */
async function timeCycles(
  cycler: Cycler,
  cycles: number,
): Promise<{ wallMs: number; cpuMicros: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    await cycler.cycle();
  }
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMicros: used.user + used.system };
}

/**
 * Scenario 1: sequential acquire+release cycles per second through each API, interleaved
 * round by round (the order rotates every round), with each round's ratio taken against the
 * floor's rate in the same round.
 */
export async function perRunScenario(config: BenchConfig): Promise<Section> {
  // Many short rounds rather than a few long ones: on a shared machine, a burst of load then
  // lands on a few rounds of every contender instead of on one contender's whole share.
  const rounds = config.quick ? 3 : 31;
  const cycles = config.quick ? 100 : 400;
  const warmup = config.quick ? 50 : 500;

  const cyclers = [
    await floorCycler(config.redisUrl),
    await moduleCycler(config.redisUrl),
    await redlockCycler(config.redisUrl),
    await semaphoreCycler(config.redisUrl),
    await floorDefaultsCycler(config.redisUrl),
    await floorInModuleShapeCycler(config.redisUrl),
    await storeCycler(config.redisUrl),
    await floorDefaultsCycler(config.redisUrl, true),
    await leanestCycler(config.redisUrl),
    await cronPathCycler(config.redisUrl),
  ];
  const growth = await growthCyclers(config.redisUrl);
  cyclers.push(
    growth.tick,
    growth.catchUp,
    growth.queue,
    growth.paused,
    growth.resumed,
    growth.historyOff,
  );
  const rates = new Map<Cycler, number[]>(cyclers.map((cycler) => [cycler, []]));
  const cpuPerCycle = new Map<Cycler, number[]>(cyclers.map((cycler) => [cycler, []]));
  const serverPerCycle = new Map<Cycler, number[]>(cyclers.map((cycler) => [cycler, []]));
  // Counted over every timed cycle: round trips client-side, commands from INFO commandstats.
  const trips = new Map<Cycler, number>(cyclers.map((cycler) => [cycler, 0]));
  const calls = new Map<Cycler, CommandCalls>(cyclers.map((cycler) => [cycler, {}]));
  const stats = await connectedClient(config.redisUrl);
  try {
    for (const cycler of cyclers) {
      await timeCycles(cycler, warmup);
    }
    for (let round = 0; round < rounds; round++) {
      const order = cyclers.map((_, i) => cyclers[(i + round) % cyclers.length]);
      for (const cycler of order) {
        const callsBefore = await commandStats(stats);
        const serverBefore = await serverMicros(stats);
        const tripsBefore = roundTrips.value;
        const { wallMs, cpuMicros } = await timeCycles(cycler, cycles);
        trips.set(cycler, trips.get(cycler)! + roundTrips.value - tripsBefore);
        serverPerCycle.get(cycler)!.push(((await serverMicros(stats)) - serverBefore) / cycles);
        const counted = calls.get(cycler)!;
        for (const [name, count] of Object.entries(
          diffCalls(await commandStats(stats), callsBefore),
        )) {
          counted[name] = (counted[name] ?? 0) + count;
        }
        rates.get(cycler)!.push((cycles / wallMs) * 1000);
        cpuPerCycle.get(cycler)!.push(cpuMicros / cycles);
      }
      config.progress(`per-run: round ${round + 1}/${rounds}`);
    }
  } finally {
    for (const cycler of cyclers) {
      await cycler.close();
    }
    await quit(stats);
  }

  const floorRates = rates.get(cyclers[0])!;
  const ratios = new Map<Cycler, Summary>(
    cyclers.map((cycler) => [
      cycler,
      summarizeRounds(pairedRatios(rates.get(cycler)!, floorRates)),
    ]),
  );
  const moduleRatio = ratios.get(cyclers[1])!;
  const cronRatio = ratios.get(cyclers[9])!;
  const serverMedian = (cycler: Cycler): number =>
    summarizeRounds(serverPerCycle.get(cycler)!).median;
  const tripsPerCycle = (cycler: Cycler): number => trips.get(cycler)! / (rounds * cycles);
  const rows = cyclers.map((cycler) => {
    const rate = summarizeRounds(rates.get(cycler)!);
    return [
      cycler.name,
      formatSummary(rate),
      formatNumber(1000 / rate.median, 3),
      formatRatio(ratios.get(cycler)!),
      formatSummary(summarizeRounds(cpuPerCycle.get(cycler)!), 1),
      formatSummary(summarizeRounds(serverPerCycle.get(cycler)!), 1),
      tripsPerCycle(cycler).toFixed(2),
      (totalCalls(calls.get(cycler)!) / (rounds * cycles)).toFixed(2),
    ];
  });
  const peers = [ratios.get(cyclers[2])!, ratios.get(cyclers[3])!];
  const sameSettings = summarizeRounds(
    pairedRatios(rates.get(cyclers[1])!, rates.get(cyclers[4])!),
  );
  const settingsCost = ratios.get(cyclers[4])!;
  // Where the gap goes: each step of the ladder floor → floor on the module's settings → the
  // floor's Lua in the module's call shape → the store alone → run(), round by round.
  const [floor, module, , semaphore, onSettings, inShape, storeAlone, ioredisTimer, leanest, cron] =
    cyclers;
  const step = (from: Cycler, to: Cycler): string =>
    formatRatio(summarizeRounds(pairedRatios(rates.get(to)!, rates.get(from)!)));
  const shapeRatio = ratios.get(inShape)!;
  const vsSemaphore = summarizeRounds(pairedRatios(rates.get(module)!, rates.get(semaphore)!));
  const leanestRatio = ratios.get(leanest)!;
  // Growth: each feature against the row of the same path without it (run() or a tick).
  const features: Array<[string, Cycler, Cycler]> = [
    ['catch-up', growth.catchUp, growth.tick],
    ['overlap queue', growth.queue, growth.tick],
    ['resumed', growth.resumed, cron],
    ['history off', growth.historyOff, cron],
    ['paused', growth.paused, cron],
  ];
  // A paused job's occurrence is answered by the acquisition alone: no run, so no release.
  const noExtraTrip =
    features.every(([, cycler]) =>
      cycler === growth.paused
        ? trips.get(cycler)! <= trips.get(cron)!
        : trips.get(cycler)! === trips.get(cron)!,
    ) && trips.get(growth.tick)! === trips.get(cron)!;
  const cpuMedian = (cycler: Cycler): number => summarizeRounds(cpuPerCycle.get(cycler)!).median;
  const cpuOver = (cycler: Cycler, base: Cycler): string =>
    `${formatNumber(cpuMedian(cycler) - cpuMedian(base), 0)} µs`;
  // Two decimals can hide a few extra round trips in thousands of runs: say how many.
  const extraTrips = (count: number, base: number): string =>
    count > base ? ` (${formatNumber(count - base)} more in all)` : '';
  const perCycle = (cycler: Cycler): string =>
    formatCalls(calls.get(cycler)!, rounds * cycles) || 'none';
  return {
    title: '1. Per-run overhead',
    method:
      `Sequential acquire+release cycles on one lock name, ${rounds} interleaved rounds of ` +
      `${formatNumber(cycles)} cycles per contender (order rotated each round, after ` +
      `${warmup} warm-up cycles each). nestjs-cron-lock goes through the public API: ` +
      '`CronLockService.run(name, { ttl }, async () => {})` (a plain lock) and ' +
      '`run(name, { ttl, scheduledAt }, …)` with a new occurrence each cycle (the cron path), ' +
      'in a Nest application context with ' +
      '`CronLockModule.forRoot({ redis: url, logger: false })`. Ratios are per round against the ' +
      "floor's rate in the same round. Client CPU is this process's `process.cpuUsage()` per " +
      'cycle (the Redis server runs in its own process); it is less sensitive to other load ' +
      'on the machine than the rate. Redis µs/cycle is the time the server spent executing the ' +
      "cycle's commands and scripts (`INFO commandstats`), which load hardly affects.",
    headers: [
      'Contender',
      'Cycles/s median (min–max)',
      'ms/cycle',
      'vs floor (min–max)',
      'Client CPU µs/cycle (min–max)',
      'Redis µs/cycle (min–max)',
      'Round trips/cycle',
      'Redis cmds/cycle',
    ],
    rows,
    targets: [
      {
        label: 'plain lock: run() >= 0.93x the floor',
        measured: formatRatio(moduleRatio),
        met: moduleRatio.median >= 0.93,
      },
      {
        label: 'plain lock: run() ahead of @sesamecare-oss/redlock',
        measured: `${moduleRatio.median.toFixed(2)}x vs ${peers[0].median.toFixed(2)}x`,
        met: moduleRatio.median > peers[0].median,
      },
      {
        label: 'plain lock: run() within 3% of redis-semaphore (per round)',
        measured: step(semaphore, module),
        met: vsSemaphore.median >= 0.97,
      },
      {
        label: 'cron path: run() with scheduledAt >= 0.85x the floor',
        measured: formatRatio(cronRatio),
        met: cronRatio.median >= 0.85,
      },
      {
        label: 'cron path: run() with scheduledAt ahead of @sesamecare-oss/redlock',
        measured: `${cronRatio.median.toFixed(2)}x vs ${peers[0].median.toFixed(2)}x`,
        met: cronRatio.median > peers[0].median,
      },
      {
        label: "cron path: Redis µs per run <= 3x the floor's",
        measured:
          `${serverMedian(cron).toFixed(1)} µs vs ${serverMedian(floor).toFixed(1)} µs ` +
          `(${(serverMedian(cron) / serverMedian(floor)).toFixed(2)}x)`,
        met: serverMedian(cron) <= 3 * serverMedian(floor),
      },
      {
        label: 'growth: catch-up, overlap queue, pause and history cost no extra round trip',
        measured:
          `round trips per run: cron path ${tripsPerCycle(cron).toFixed(2)}, ` +
          `@LockedCron tick ${tripsPerCycle(growth.tick).toFixed(2)}, ` +
          features
            .map(
              ([label, cycler]) =>
                `${label} ${tripsPerCycle(cycler).toFixed(2)}` +
                (cycler === growth.paused ? ' (acquire only)' : '') +
                extraTrips(trips.get(cycler)!, trips.get(cron)!),
            )
            .join(', '),
        met: noExtraTrip,
      },
    ],
    notes: [
      `The module's client settings alone (\`LOCK_CLIENT_DEFAULTS\`, commands sent as the ` +
        `module sends them) take the floor to ${formatRatio(settingsCost)}; against that floor ` +
        `on the same settings, nestjs-cron-lock is at ${formatRatio(sameSettings)}. Sent ` +
        `through ioredis' own methods, which arm and clear a timer per command for ` +
        `\`commandTimeout\`, the same floor stands at ${formatRatio(ratios.get(ioredisTimer)!)}; ` +
        `keeping the timeout with one timer per timeout value instead, as the module does ` +
        `(\`DeadlineCommand\`), is worth ${step(ioredisTimer, onSettings)} against that.`,
      `Where the gap goes, each step measured against the one before it in the same round: ` +
        `the module's client settings ${step(floor, onSettings)}; the module's call shape ` +
        `(two keys, five or six arguments, a text reply) with the floor's Lua ` +
        `${step(onSettings, inShape)}; the module's scripts instead of the floor's Lua ` +
        `${step(inShape, storeAlone)}; \`run()\` with \`scheduledAt\` around the store ` +
        `${step(storeAlone, cron)}.` +
        ` The floor's own Lua in the module's call shape stands at ${formatRatio(shapeRatio)} ` +
        `of the floor: the most any script sent this way could reach, before the scripts' own ` +
        `work (marker, fencing token, holder, outcome) and \`run()\`` +
        (shapeRatio.median < 0.9
          ? ', so no change to what the scripts do could bring `run()` to 0.9x on this machine.'
          : '.'),
      `The leanest scripts that keep the design's promises (the occurrence marker checked, a ` +
        `fencing token from the server clock stored, an expiry on every key, the floor's ` +
        `owner-checked release; no holder, no last success, no outcome record, an integer ` +
        `reply, a plain client) stand at ${formatRatio(leanestRatio)} of the floor: a bound ` +
        `on any lock built to the design on this server, before the rest of the module's work` +
        ` (${step(leanest, cron)} from there to \`run()\` with \`scheduledAt\`).`,
      'A plain lock (`run()` without `scheduledAt` or `record: true`, on a name no job uses) ' +
        'sends one small script (`SET NX PX`, then `TIME` and the stored fence for its fencing ' +
        "token, an integer reply) and the floor's compare-and-delete; what is left is the script " +
        "call in place of a native `SET` and `run()`'s client work (renew timer, run record for " +
        'shutdown, events). The cron path ' +
        'sends one script call that checks the occurrence marker, takes the lock and hands out ' +
        'a fencing token (the Redis commands it runs are listed in section 2), and one that ' +
        'records the outcome and releases with an owner check. The client CPU and Redis µs ' +
        'columns split the cost between the client and the server. Round trips are counted ' +
        'client-side (commands sent by every ioredis client of the process); Redis commands ' +
        'come from `INFO commandstats` deltas, which include the commands run inside scripts.',
      'Growth with the features a job can have, each row the cron path with one feature on: ' +
        "a `@LockedCron('* * * * * *')` job's tick as the scheduler makes it (its occurrence " +
        'picked by the benchmark, a minute ahead of the clock, so its claim checks for missed ' +
        'occurrences as a tick in order does), plain, with `catchUp: ' +
        "'latest'` (each run then looks for missed occurrences; none are due) and with " +
        "`overlap: 'queue'` (each run sends the policy and its release reads the queued " +
        'occurrence; none is queued, the runs being sequential); and `run()` with ' +
        '`scheduledAt` on a job paused with `pause()` (each occurrence answered `paused` and ' +
        'recorded in the history by this, the first, instance), paused then resumed, and with ' +
        'the history off (`historySize: 0`; the cron path row keeps the default ' +
        'history). Each against the row of the same path without it, per round: catch-up ' +
        `${step(growth.tick, growth.catchUp)}, overlap queue ${step(growth.tick, growth.queue)}` +
        ` (against the plain tick, itself ${step(cron, growth.tick)} of \`run()\` with ` +
        `\`scheduledAt\`); resumed ${step(cron, growth.resumed)}, history off ` +
        `${step(cron, growth.historyOff)}, paused ${step(cron, growth.paused)} (against ` +
        '`run()` with `scheduledAt`).',
      `Client CPU per run over the row without the feature (medians): catch-up ` +
        `${cpuOver(growth.catchUp, growth.tick)}, overlap queue ` +
        `${cpuOver(growth.queue, growth.tick)}, resumed ${cpuOver(growth.resumed, cron)}, ` +
        `history off ${cpuOver(growth.historyOff, cron)}, paused ` +
        `${cpuOver(growth.paused, cron)}. After every run, catch-up checks whether the next ` +
        "occurrence is due yet: a scheduled tick's run reads it from the occurrences its ticks " +
        'work out ahead anyway, any other from one step of the `cron` package; here the ' +
        "benchmark's occurrences lie ahead of the clock, so the check is one comparison. It " +
        'costs no round trip. The catch-up row runs the same Redis ' +
        'commands as the plain tick (below); its higher Redis µs per cycle comes with its pace: ' +
        '`run()` cycles spaced a few ms apart by client work show the same rise, the server ' +
        'running each script after an idle gap.',
      'Redis commands per run: ' +
        [cron, growth.tick, ...features.map(([, cycler]) => cycler)]
          .map((cycler) => `${cycler.name}: ${perCycle(cycler)}`)
          .join('; ') +
        '.',
    ],
  };
}
