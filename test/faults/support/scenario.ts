import { Redis } from 'ioredis';
import { LOCK_CLIENT_DEFAULTS } from 'nestjs-cron-lock';
import { afterEach, expect } from 'vitest';
import { uniquePrefix } from '../../support/redis.js';
import { startRedisServer, type RedisServerHandle } from '../../support/redis-server.js';
import { FaultCluster, type WorkerOptions } from './cluster.js';
import { ExpirySampler } from './expiry-sampler.js';
import { scenarioRandom, type Random } from './prng.js';
import { FAULT_JOB, monoNow } from './records.js';

/**
 * Slack added to every time bound, for a loaded 2-core machine (parallel test files, 16
 * Node processes, swc warming up). Bounds stay finite, so a stuck lock still fails.
 */
export const LOAD_MARGIN_MS = 3_000;

/** Time limit of one scenario (Vitest's default of 60 s is tight for a loaded machine). */
export const SCENARIO_TIMEOUT_MS = 90_000;

/** Command timeout of the clients the module creates (2 s). */
export const COMMAND_TIMEOUT_MS = LOCK_CLIENT_DEFAULTS.commandTimeout ?? 2_000;

/** Longest reconnect backoff of those clients (2 s). */
export const RECONNECT_BACKOFF_MAX_MS = Number(LOCK_CLIENT_DEFAULTS.retryStrategy?.(100) ?? 2_000);

/** One scenario's resources, all released after the test (sinks kept when it failed). */
export interface Scenario {
  readonly random: Random;
  readonly cluster: FaultCluster;
  /** Unique key prefix of this scenario's lock keys. */
  readonly keyPrefix: string;
  /** Starts a private redis-server, stopped after the test. */
  startRedis(): Promise<RedisServerHandle>;
  /** An ioredis client for assertions and faults, closed after the test. */
  client(url: string): Redis;
  /** Samples PTTL of every key of this scenario on `url` until the test ends. */
  sampleExpiries(url: string): ExpirySampler;
  /** Spawns `count` workers `w1…wN` with shared settings and a per-worker seed. */
  spawnWorkers(
    count: number,
    options: Omit<WorkerOptions, 'instance' | 'seed' | 'keyPrefix'>,
    perWorker?: (index: number) => Partial<WorkerOptions>,
  ): void;
  /** Registers a cleanup step (run in reverse order after the test; told whether it failed). */
  defer(cleanup: (failed: boolean) => unknown): void;
  /** Lock key of the job, as RedisLockStore names it. */
  readonly lockKey: string;
  /** State hash of the job (last occurrence, last fencing token, holder). */
  readonly stateKey: string;
}

/**
 * Wires scenarios into a spec file: call once at the top of a `describe`, then `begin(label)`
 * at the start of each test. After a failed test it prints the seed, the sink folder (kept) and
 * the tail of every worker's log.
 */
export function faultScenarios(seed: number): { begin(label: string): Scenario } {
  let cleanups: Array<(failed: boolean) => unknown> = [];
  let current: { label: string; cluster: FaultCluster } | null = null;

  afterEach(async ({ task }) => {
    const failed = task.result?.state === 'fail';
    if (failed && current) {
      console.error(
        `[faults] "${current.label}" failed. Replay with FAULT_SEED=${seed}. ` +
          `Sinks kept in ${current.cluster.dir}\n${current.cluster.describe()}`,
      );
    }
    const steps = cleanups.reverse();
    cleanups = [];
    current = null;
    for (const step of steps) {
      try {
        await step(failed);
      } catch {
        // Best effort: one failed cleanup must not leak the rest.
      }
    }
  });

  return {
    begin(label: string): Scenario {
      const random = scenarioRandom(seed, label);
      const cluster = new FaultCluster();
      const keyPrefix = uniquePrefix(`faults-${label}`);
      current = { label, cluster };
      const defer = (cleanup: (failed: boolean) => unknown): void => {
        cleanups.push(cleanup);
      };
      defer((failed) => cluster.cleanup(failed));
      defer(() => cluster.stop());
      return {
        random,
        cluster,
        keyPrefix,
        lockKey: `${keyPrefix}:{${FAULT_JOB}}:lock`,
        stateKey: `${keyPrefix}:{${FAULT_JOB}}:state`,
        defer,
        async startRedis() {
          const server = await startRedisServer();
          defer(() => server.stop());
          return server;
        },
        client(url: string) {
          const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
          client.on('error', () => undefined);
          defer(() => client.disconnect());
          return client;
        },
        sampleExpiries(url: string) {
          const sampler = new ExpirySampler(url, keyPrefix);
          defer(() => sampler.stop());
          return sampler;
        },
        spawnWorkers(count, options, perWorker) {
          for (let i = 1; i <= count; i++) {
            cluster.spawn({
              ...options,
              instance: `w${i}`,
              keyPrefix,
              seed: random.fork(),
              ...perWorker?.(i),
            });
          }
        },
      };
    },
  };
}

/** Resolves after `ms` (for a fault that lasts a given time, never to wait for a condition). */
export function hold(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The parent's offset between the wall clock and the monotonic clock (wall = mono + offset). */
export function wallOffset(): number {
  return Date.now() - monoNow();
}

/**
 * Asserts that every named check found no violation; on failure the message lists each broken
 * guarantee with its violations.
 */
export function expectHolds(checks: Record<string, string[]>): void {
  const broken = Object.fromEntries(
    Object.entries(checks).filter(([, violations]) => violations.length > 0),
  );
  expect(broken, 'guarantees broken (guarantee → violations)').toEqual({});
}
