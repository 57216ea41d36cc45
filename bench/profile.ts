/**
 * A profiling harness, not a benchmark: runs one contender's sequential cycles (or one tick
 * storm) in a process of its own, so that a CPU profile or an instruction count covers that
 * contender only. Prints the client's CPU per cycle and the Redis server's CPU per cycle (read
 * from /proc for the redis-server the harness starts), which together bound a cycle's latency,
 * and each command's calls and µs per cycle from `INFO commandstats` (a script's µs include the
 * commands it runs, which are also listed on their own).
 *
 *   node --import ./scripts/register-ts.mjs bench/profile.ts module 20000
 *   node --cpu-prof --cpu-prof-dir=prof --import ./scripts/register-ts.mjs bench/profile.ts module
 *   WARMUP=3000 valgrind --tool=callgrind node --single-threaded \
 *     --import ./scripts/register-ts.mjs bench/profile.ts module 16000
 *
 * Contenders: layer (`run()` on a plain lock, around a store that answers at once) | floor |
 * floor-timeout (floor on a client with the module's commandTimeout) | floor-pipelined
 * (enableAutoPipelining) | scripts (the cron path's two scripts on the server, each against a
 * stand-in) | module (sequential plain-lock cycles; the number is the cycle count) | cron
 * (`run()` with a new `scheduledAt` each cycle) | store-plain (the store's plain path alone, no
 * Nest) | storm-floor | storm-module (1,000 jobs × 4 instances; the number is the storm count,
 * PIPELINE=1 turns on ioredis' enableAutoPipelining for both). WARMUP sets the warm-up cycles.
 * Instruction counts are taken by difference: run the same contender with two cycle counts (and
 * the same WARMUP) and divide the difference in instructions by the difference in cycles, which
 * cancels start-up; `--single-threaded` keeps V8's background compiler from adding noise.
 */
import { readFileSync } from 'node:fs';
import { MemoryLockStore, type LockStore } from 'nestjs-cron-lock';
import { startRedisServer } from '../test/support/redis-server.js';
import { startLockApp, type LockApp } from './support/apps.js';
import {
  clockOccurrences,
  startJobsApp,
  type JobPolicy,
  type JobsApp,
} from './support/jobs-app.js';
import { connectedClient, RawLock } from './support/redis.js';

const TTL = 30_000;

/** `@LockedCron` jobs ticked as the scheduler does, through the occurrence driver when they have one. */
const TICK_POLICIES: Record<string, JobPolicy> = {
  'cron-tick': {},
  'cron-catch-up': { catchUp: 'latest' },
  'cron-queue': { overlap: 'queue' },
};
const noop = async (): Promise<void> => undefined;

/** A store whose every answer is already settled: a lock that is always free. */
function instantStore(): LockStore {
  let fence = 0;
  const empty = new MemoryLockStore();
  return {
    acquire: () => Promise.resolve({ acquired: true, fencingToken: ++fence }),
    renew: () => Promise.resolve({ renewed: true }),
    release: () => Promise.resolve(true),
    inspect: (name) => empty.inspect(name),
    ping: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
}

/** CPU time (µs) a process has used so far, from /proc (Linux only). */
function processCpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of the full line (12 and 13 after the command name).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / 100;
}

async function main(): Promise<void> {
  const [contender = 'module', cyclesArg = '20000'] = process.argv.slice(2);
  const cycles = Number(cyclesArg);
  const server = await startRedisServer();
  const closers: Array<() => Promise<unknown>> = [];
  try {
    let cycle: () => Promise<void>;
    if (contender.startsWith('floor')) {
      const extra =
        contender === 'floor-timeout'
          ? { commandTimeout: 2_000 }
          : contender === 'floor-pipelined'
            ? { enableAutoPipelining: true }
            : {};
      const redis = await connectedClient(server.url, extra);
      closers.push(() => redis.quit());
      const raw = new RawLock(redis);
      await raw.load();
      cycle = async () => {
        const token = await raw.acquire('profile:floor', TTL);
        await raw.release('profile:floor', token!);
      };
    } else if (contender === 'module') {
      const app = await startLockApp({ redis: server.url, keyPrefix: 'profile' });
      closers.push(() => app.close());
      cycle = async () => {
        const result = await app.locks.run('per-run', { ttl: TTL }, noop);
        if (!result.ran) {
          throw new Error(`did not run: ${result.reason}`);
        }
      };
    } else if (contender === 'layer') {
      // run() around a store that answers at once: the module's own client work per cycle,
      // with no socket in between (which makes it steady enough to compare two versions).
      const app = await startLockApp({ store: instantStore() });
      closers.push(() => app.close());
      cycle = async () => {
        const result = await app.locks.run('per-run', { ttl: TTL }, noop);
        if (!result.ran) {
          throw new Error(`did not run: ${result.reason}`);
        }
      };
    } else if (contender === 'store-plain') {
      const { RedisLockStore } = await import('../lib/stores/redis/redis-lock.store.js');
      const { createOwnerToken } = await import('../lib/utils/token.js');
      const store = new RedisLockStore(server.url, { logger: false });
      closers.push(() => store.close());
      cycle = async () => {
        const token = createOwnerToken();
        const got = await store.acquire({
          name: 'per-run',
          token,
          ttl: TTL,
          instanceId: 'a',
          plain: true,
        });
        if (!got.acquired) {
          throw new Error('held');
        }
        await store.release({ name: 'per-run', token, plain: true });
      };
    } else if (contender === 'cron') {
      const app = await startLockApp({ redis: server.url, keyPrefix: 'profile' });
      closers.push(() => app.close());
      let tick = Date.UTC(2025, 0, 1);
      cycle = async () => {
        tick += 60_000;
        const result = await app.locks.run('per-run', { ttl: TTL, scheduledAt: tick }, noop);
        if (!result.ran) {
          throw new Error(`did not run: ${result.reason}`);
        }
      };
    } else if (contender in TICK_POLICIES) {
      const app = await startJobsApp(
        { redis: server.url, keyPrefix: 'profile' },
        ['per-run'],
        TTL,
        TICK_POLICIES[contender],
      );
      closers.push(() => app.close());
      const next = clockOccurrences();
      cycle = async () => {
        const result = await app.tick('per-run', next());
        if (!result.ran) {
          throw new Error(`did not run: ${result.reason}`);
        }
      };
    } else if (contender.startsWith('storm-')) {
      await storm(contender, server.url, cycles, closers);
      return;
    } else if (contender === 'scripts') {
      await scriptCosts(server.url, cycles, closers);
      return;
    } else {
      throw new Error(`unknown contender ${contender}`);
    }
    const warmup = Number(process.env.WARMUP ?? Math.min(2_000, cycles));
    for (let i = 0; i < warmup; i++) {
      await cycle();
    }
    const stats = await connectedClient(server.url);
    closers.push(() => stats.quit());
    await stats.config('RESETSTAT');
    const serverBefore = processCpuMicros(server.pid);
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < cycles; i++) {
      await cycle();
    }
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpu);
    for (const line of (await stats.info('commandstats')).split('\n')) {
      const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
      if (match && !['info', 'config'].includes(match[1])) {
        const [, name, calls, usec] = match;
        console.log(
          `  ${name}: ${(Number(calls) / cycles).toFixed(2)} calls/cycle, ${(Number(usec) / cycles).toFixed(2)} µs/cycle`,
        );
      }
    }
    const serverUsed = processCpuMicros(server.pid) - serverBefore;
    console.log(
      `${contender}: ${cycles} cycles, ${((wall * 1000) / cycles).toFixed(1)} µs/cycle wall, ` +
        `client CPU ${((used.user + used.system) / cycles).toFixed(1)} µs/cycle ` +
        `(user ${(used.user / cycles).toFixed(1)}), server CPU ${(serverUsed / cycles).toFixed(1)} µs/cycle`,
    );
  } finally {
    for (const close of closers) {
      await close().catch(() => undefined);
    }
    await server.stop();
  }
}

/**
 * Where the cron path's Redis time goes: the store's acquire and release scripts run on the
 * server as a cron cycle sends them (a new occurrence each cycle, history on, one run entry),
 * pipelined so that only the server is measured, each against a stand-in (`return 1`) for the
 * other, and both stand-ins alone: the cost of two EVALSHA calls with their arguments. Five
 * interleaved rounds, the lowest µs per cycle of each (`INFO commandstats`, scripts included).
 */
async function scriptCosts(
  url: string,
  cycles: number,
  closers: Array<() => Promise<unknown>>,
): Promise<void> {
  const { ACQUIRE_SCRIPT } = await import('../lib/stores/redis/acquire.js');
  const { RELEASE_SCRIPT } = await import('../lib/stores/redis/release.js');
  const redis = await connectedClient(url);
  closers.push(() => redis.quit());
  const stub = 'return 1';
  const variants: Record<string, [string, string]> = {
    'acquire + release': [ACQUIRE_SCRIPT.source, RELEASE_SCRIPT.source],
    'acquire + stub': [ACQUIRE_SCRIPT.source, stub],
    'stub + release': [stub, RELEASE_SCRIPT.source],
    'stub + stub (two EVALSHA calls)': [stub, stub],
  };
  const keys = ['profile:{per-run}:lock', 'profile:{per-run}:state', 'profile:{per-run}:history'];
  const best = new Map<string, number>();
  let tick = Date.now() - 1_000_000_000;
  for (let round = 0; round < 5; round++) {
    for (const [name, [acquire, release]] of Object.entries(variants)) {
      const shaA = (await redis.script('LOAD', acquire)) as string;
      const shaR = (await redis.script('LOAD', release)) as string;
      await redis.del(...keys);
      await redis.config('RESETSTAT');
      for (let done = 0; done < cycles; done += 100) {
        const batch = redis.pipeline();
        for (let i = 0; i < 100; i++) {
          tick += 1;
          const token = `token-${tick}`;
          const entry =
            `{"kind":"run","scheduledAt":${tick},"startedAt":${tick},"finishedAt":${tick},` +
            `"durationMs":0,"instanceId":"profile","fencingToken":1,"trigger":"api","outcome":"completed"}`;
          // ARGV as acquireLock and releaseLock send them (history size 20, no overlap).
          batch.evalsha(shaA, 3, ...keys, token, TTL, tick, 172_800_000, 'profile', 20, '', '');
          batch.evalsha(
            shaR,
            3,
            ...keys,
            token,
            0,
            'completed',
            0,
            tick,
            172_800_000,
            '0',
            20,
            entry,
          );
        }
        await batch.exec();
      }
      const stats = await redis.info('commandstats');
      const usec = Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(stats)?.[1] ?? NaN);
      const perCycle = usec / cycles;
      best.set(name, Math.min(best.get(name) ?? Infinity, perCycle));
    }
  }
  for (const [name, perCycle] of best) {
    console.log(`  ${name}: ${perCycle.toFixed(2)} µs/cycle (lowest of 5 rounds)`);
  }
}

/** `rounds` tick storms of 1,000 jobs × 4 instances; prints ms per storm and CPU. */
async function storm(
  contender: string,
  url: string,
  rounds: number,
  closers: Array<() => Promise<unknown>>,
): Promise<void> {
  const jobs = 1_000;
  let attempt: (job: number, instance: number, round: number) => Promise<boolean>;
  const tickPolicy = TICK_POLICIES[contender.replace(/^storm-/, 'cron-')];
  if (contender === 'storm-floor') {
    const pipelined = process.env.PIPELINE === '1';
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => connectedClient(url, { enableAutoPipelining: pipelined })),
    );
    closers.push(() => Promise.all(clients.map((redis) => redis.quit())));
    const locks = clients.map((redis) => new RawLock(redis));
    await Promise.all(locks.map((lock) => lock.load()));
    attempt = async (job, instance, round) => {
      const key = `profile-floor:${round}:${job}`;
      const token = await locks[instance].acquire(key, TTL);
      if (token !== null) {
        await locks[instance].release(key, token);
      }
      return token !== null;
    };
  } else if (tickPolicy) {
    const names = Array.from({ length: jobs }, (_, job) => `storm-${job}`);
    const apps: JobsApp[] = await Promise.all(
      Array.from({ length: 4 }, () =>
        startJobsApp({ redis: url, keyPrefix: 'profile-storm' }, names, TTL, tickPolicy),
      ),
    );
    closers.push(() => Promise.all(apps.map((app) => app.close())));
    const next = clockOccurrences();
    let round = Number.NaN;
    let scheduledAt = 0;
    attempt = async (job, instance, storm) => {
      if (storm !== round) {
        round = storm;
        scheduledAt = next();
      }
      const result = await apps[instance].tick(names[job], scheduledAt);
      return result.ran;
    };
  } else if (contender === 'storm-module') {
    const redis =
      process.env.PIPELINE === '1'
        ? { host: '127.0.0.1', port: Number(new URL(url).port), enableAutoPipelining: true }
        : url;
    const apps: LockApp[] = await Promise.all(
      Array.from({ length: 4 }, () => startLockApp({ redis, keyPrefix: 'profile-storm' })),
    );
    closers.push(() => Promise.all(apps.map((app) => app.close())));
    const base = Date.UTC(2025, 0, 1);
    attempt = async (job, instance, round) => {
      const result = await apps[instance].locks.run(
        `storm-${job}`,
        { ttl: TTL, scheduledAt: base + (round + 10) * 60_000 },
        noop,
      );
      return result.ran;
    };
  } else {
    throw new Error(`unknown contender ${contender}`);
  }
  const once = async (round: number) => {
    const pending: Promise<boolean>[] = [];
    for (let job = 0; job < jobs; job++) {
      for (let instance = 0; instance < 4; instance++) {
        pending.push(attempt(job, instance, round));
      }
    }
    const runs = (await Promise.all(pending)).filter(Boolean).length;
    if (runs !== jobs) {
      throw new Error(`${runs} runs for ${jobs} jobs`);
    }
  };
  await once(-5);
  const cpu = process.cpuUsage();
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    await once(round);
    times.push(performance.now() - started);
  }
  const used = process.cpuUsage(cpu);
  times.sort((a, b) => a - b);
  console.log(
    `${contender}: ${rounds} storms, median ${times[Math.floor(rounds / 2)].toFixed(1)} ms, ` +
      `client CPU ${((used.user + used.system) / rounds / 1000).toFixed(1)} ms/storm`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
