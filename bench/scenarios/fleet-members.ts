import type { Redis } from 'ioredis';
import { startLockApp, type LockApp } from '../support/apps.js';
import { connectedClient, RawLock } from '../support/redis.js';

export const TTL = 30_000;
/**
 * A process here plays many instances of the fleet, so a reply waits behind the replies of
 * every other instance in the process; the 2 s default would turn that wait into store errors
 * that as many separate processes would not have.
 */
export const COMMAND_TIMEOUT = 120_000;

/** The two contenders, by the name the parent and its worker processes use for them. */
export type ContenderKind = 'floor' | 'module';

export const CONTENDER_NAMES: Record<ContenderKind, string> = {
  floor: 'floor (SET NX PX + EVALSHA del)',
  module: 'nestjs-cron-lock run() with scheduledAt',
};

/** Instances of one contender in one process: each tries every job of one occurrence at once. */
export interface LocalFleet {
  /** Resolves with the runs per job once every attempt settled. */
  tick(jobs: number, round: number): Promise<Uint32Array>;
  close(): Promise<void>;
}

export async function quitClient(client: Redis): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
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

async function moduleFleet(url: string, instances: number): Promise<LocalFleet> {
  // Started a few at a time: many Nest apps booting at once on a loaded machine would spend
  // their connect timeouts waiting for each other.
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

async function floorFleet(url: string, instances: number): Promise<LocalFleet> {
  const clients: Redis[] = [];
  while (clients.length < instances) {
    clients.push(await connectedClient(url));
  }
  const locks = clients.map((client) => new RawLock(client));
  await Promise.all(locks.map((lock) => lock.load()));
  return {
    tick: (jobs, round) =>
      fire(jobs, instances, async (job, instance, ran) => {
        // Keyed by round and job count as well: every tick is a fresh occurrence for the floor.
        const key = `bench-fleet-floor:${round}:${jobs}:{${job}}`;
        const token = await locks[instance].acquire(key, TTL);
        if (token !== null) {
          ran();
          await locks[instance].release(key, token);
        }
      }),
    close: async () => {
      await Promise.all(clients.map(quitClient));
    },
  };
}

/** `instances` instances of one contender, in this process. */
export function startLocalFleet(
  kind: ContenderKind,
  url: string,
  instances: number,
): Promise<LocalFleet> {
  return kind === 'floor' ? floorFleet(url, instances) : moduleFleet(url, instances);
}
