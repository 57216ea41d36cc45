import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newRedisClient, uniquePrefix, waitFor } from '../support/redis.js';
import {
  duplicateOccurrences,
  nonIncreasingFences,
  overlappingRuns,
  Worker,
  type RunRecord,
} from '../support/run-log.js';

const JOB_NAME = 'every-second';
const lockKeyOf = (keyPrefix: string): string => `${keyPrefix}:{${JOB_NAME}}:lock`;

/** Forking three TypeScript workers on a loaded 2-core machine takes a few seconds. */
const STARTUP_TIMEOUT_MS = 30_000;

describe('locked cron across worker processes (real redis-server)', () => {
  let redis: Redis;
  let workers: Worker[] = [];

  beforeAll(() => {
    redis = newRedisClient();
  });
  afterAll(async () => {
    await redis.quit();
  });
  afterEach(async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    workers = [];
  });

  function start(keyPrefix: string, env: Record<string, string>): Worker[] {
    workers = ['worker-1', 'worker-2', 'worker-3'].map((instance) =>
      Worker.fork(instance, { WORKER_KEY_PREFIX: keyPrefix, ...env }),
    );
    return workers;
  }

  async function allReady(): Promise<number> {
    // A worker that dies during startup fails the test at once, with what it reported.
    const died = workers.map((worker) =>
      worker.exited.then(([code, signal]) => {
        throw new Error(
          `${worker.instance} exited during startup (${code ?? signal}): ` +
            JSON.stringify(worker.of('crash')),
        );
      }),
    );
    died.forEach((promise) => promise.catch(() => undefined));
    await Promise.race([
      waitFor(() => workers.every((worker) => worker.of('ready').length > 0), {
        timeout: STARTUP_TIMEOUT_MS,
        message: 'every worker to report ready',
      }),
      ...died,
    ]);
    return Math.max(...workers.map((worker) => worker.of('ready')[0].at));
  }

  const runsOf = (list: Worker[]): RunRecord[] => list.flatMap((worker) => worker.of('run'));
  const startsOf = (list: Worker[]) => list.flatMap((worker) => worker.of('started'));

  it('runs each occurrence exactly once across three processes, never overlapping', async () => {
    const keyPrefix = uniquePrefix('processes-once');
    start(keyPrefix, { WORKER_JOB_TTL: '5s', WORKER_JOB_DURATION_MS: '5' });
    const readyAt = await allReady();

    // Warm-up: the first full second after every worker was scheduling.
    const firstCounted = Math.ceil((readyAt + 1_000) / 1_000) * 1_000;
    const counted = () => runsOf(workers).filter((run) => run.scheduledAt >= firstCounted);
    await waitFor(() => new Set(counted().map((run) => run.scheduledAt)).size >= 5, {
      timeout: 15_000,
      message: 'five counted occurrences',
    });
    const lastCounted = Math.max(...counted().map((run) => run.scheduledAt));

    const exits = await Promise.all(workers.map((worker) => worker.stop()));
    expect(exits).toEqual([
      [0, null],
      [0, null],
      [0, null],
    ]);

    const runs = runsOf(workers);
    // Every occurrence in the counted window ran, and ran exactly once.
    for (let at = firstCounted; at <= lastCounted; at += 1_000) {
      const ranFor = runs.filter((run) => run.scheduledAt === at);
      expect(ranFor, `occurrence ${new Date(at).toISOString()}`).toHaveLength(1);
    }
    expect(lastCounted - firstCounted).toBeGreaterThanOrEqual(4_000);
    // Over the whole life of the workers, no occurrence ran twice, fences only grew, no overlap.
    expect(duplicateOccurrences(runs)).toEqual([]);
    expect(nonIncreasingFences(runs)).toEqual([]);
    expect(overlappingRuns(runs)).toEqual([]);
    expect(runs.every((run) => run.end - run.start < 1_000)).toBe(true);

    for (const worker of workers) {
      expect(worker.of('crash'), `${worker.instance} crashes`).toEqual([]);
      expect(worker.of('lost'), `${worker.instance} lost locks`).toEqual([]);
      expect(worker.of('log').filter((line) => line.level === 'error')).toEqual([]);
    }

    // No key of the job is left without an expiry.
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(await redis.pttl(key), key).toBeGreaterThan(0);
    }
  });

  it('lets a later occurrence run elsewhere only after a killed holder’s lock expires', async () => {
    const ttlMs = 2_000;
    const keyPrefix = uniquePrefix('processes-kill');
    start(keyPrefix, {
      WORKER_JOB_TTL: String(ttlMs),
      WORKER_JOB_DURATION_MS: '3000',
      WORKER_SHUTDOWN_TIMEOUT: '200ms',
    });
    const readyAt = await allReady();

    const victimStart = await waitFor(
      () => startsOf(workers).find((started) => started.start > readyAt),
      { timeout: 10_000, interval: 5, message: 'a run to start after every worker is ready' },
    );
    const victim = workers.find((worker) => worker.instance === victimStart.instance)!;
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toEqual([null, 'SIGKILL']);

    // The dead holder's lock is still there, and it has an expiry.
    const pttl = await redis.pttl(lockKeyOf(keyPrefix));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(ttlMs);

    const survivors = workers.filter((worker) => worker !== victim);
    const takeover = await waitFor(
      () => startsOf(survivors).find((started) => started.start > victimStart.start),
      { timeout: 15_000, message: 'a survivor to run a later occurrence' },
    );

    // Nobody ran while the dead holder's lock lived (it was set before the victim reported).
    const expiryMargin = 250;
    expect(takeover.start).toBeGreaterThanOrEqual(victimStart.start + ttlMs - expiryMargin);
    // Counted in occurrences: at least the ttl's worth of occurrences were skipped, and the
    // first occurrence after the expiry (plus margin for a loaded machine) ran.
    const skippedMs = takeover.scheduledAt - victimStart.scheduledAt;
    expect(skippedMs).toBeGreaterThanOrEqual(ttlMs);
    expect(skippedMs).toBeLessThanOrEqual(ttlMs + 4_000);
    expect(takeover.fencingToken).toBeGreaterThan(victimStart.fencingToken);

    const exits = await Promise.all(survivors.map((worker) => worker.stop()));
    expect(exits).toEqual([
      [0, null],
      [0, null],
    ]);

    // At most once: the crashed occurrence was not re-run anywhere.
    const starts = startsOf(workers);
    expect(
      starts.filter((started) => started.scheduledAt === victimStart.scheduledAt),
    ).toHaveLength(1);
    expect(duplicateOccurrences(starts)).toEqual([]);
    expect(nonIncreasingFences(starts)).toEqual([]);
    for (const worker of survivors) {
      expect(worker.of('crash'), `${worker.instance} crashes`).toEqual([]);
      expect(worker.of('lost'), `${worker.instance} lost locks`).toEqual([]);
    }
  });
});
