// A rolling deploy as Kubernetes runs one (surge 1, unavailable 0): a new worker starts, and once
// it is up an old one gets SIGTERM and closes gracefully, one at a time, until every worker was
// replaced, twice over. Every worker is a forked Nest app (fixtures/worker.ts) recording to a
// file sink outside Redis; the oracles in support/oracles.ts check the records afterwards.
import { describe, expect, it } from 'vitest';
import {
  alwaysViolations,
  collectRuns,
  describeRun,
  expiryViolations,
  occurrencesBetween,
  overlaps,
} from './support/oracles.js';
import { baseSeed } from './support/prng.js';
import { monoNow } from './support/records.js';
import { BOOT_TIMEOUT_MS, type FaultWorker, type WorkerOptions } from './support/cluster.js';
import {
  expectHolds,
  faultScenarios,
  hold,
  LOAD_MARGIN_MS,
  SCENARIO_TIMEOUT_MS,
  wallOffset,
} from './support/scenario.js';

const SEED = baseSeed();
/** The workers' cron: every second. */
const PERIOD_MS = 1_000;
/** Workers in the deployment at any time (one more while a replacement boots). */
const REPLICAS = 3;
/** Replacements: every worker, twice over. */
const ROUNDS = 2;
/**
 * Long enough that a lock stranded by a graceful close would still be there when the test
 * looks, right after the process exited (a 10 minute ttl, as in production, tells the same).
 */
const TTL_MS = 30_000;
/** Job lengths: well inside the period, so that no occurrence is skipped as `held`. */
const JOB_MS = 50;
const JOB_JITTER_MS = 250;
/** Nine boots, the first three together and six one after the other, then the checks. */
const DEPLOY_TIMEOUT_MS = (1 + REPLICAS * ROUNDS) * BOOT_TIMEOUT_MS + 2 * SCENARIO_TIMEOUT_MS;

describe(`rolling deploy (FAULT_SEED=${SEED})`, { timeout: DEPLOY_TIMEOUT_MS }, () => {
  const scenarios = faultScenarios(SEED);

  it('replaces three workers one at a time, twice over: no occurrence runs twice, none is missed, no lock is stranded', async () => {
    const s = scenarios.begin('rolling-deploy');
    const redis = await s.startRedis();
    const admin = s.client(redis.url);
    const sampler = s.sampleExpiries(redis.url);
    const shared: Omit<WorkerOptions, 'instance' | 'seed' | 'keyPrefix'> = {
      redisUrl: redis.url,
      ttlMs: TTL_MS,
      jobMs: JOB_MS,
      jobJitterMs: JOB_JITTER_MS,
      shutdownTimeoutMs: 10_000,
    };
    s.spawnWorkers(REPLICAS, shared);
    await s.cluster.ready(BOOT_TIMEOUT_MS);

    const live: FaultWorker[] = [...s.cluster.workers];
    /** Locks found held by a worker that had already exited: [worker, PTTL]. */
    const stranded: string[] = [];
    let firstSigtermMono: number | null = null;
    const replacements = REPLICAS * ROUNDS;
    const spawnedAt = new Map<string, number>();
    const spawnNext = (i: number): FaultWorker => {
      spawnedAt.set(`w${REPLICAS + i}`, monoNow());
      return s.cluster.spawn({
        ...shared,
        instance: `w${REPLICAS + i}`,
        keyPrefix: s.keyPrefix,
        seed: s.random.fork(),
      });
    };
    let fresh = spawnNext(1);
    const bootMs: number[] = [];
    for (let i = 1; i <= replacements; i++) {
      // Surge: the new worker is up before an old one goes.
      const ready = await s.cluster.waitForRecord('ready', (r) => r.instance === fresh.instance, {
        timeout: BOOT_TIMEOUT_MS,
        message: `${fresh.instance} to boot`,
      });
      bootMs.push(Math.round(ready.mono - spawnedAt.get(fresh.instance)!));
      const victim = live.shift()!;
      live.push(fresh);
      // Kubernetes does not wait for a quiet moment; the test prefers a SIGTERM while the
      // victim runs a job (the case where a release could be stranded), but does not wait long.
      const since = monoNow();
      await s.cluster
        .waitForRecord('start', (r) => r.instance === victim.instance && r.mono > since, {
          timeout: (REPLICAS + 1) * PERIOD_MS,
          message: `a run on ${victim.instance}`,
        })
        .then(() => hold(s.random.int(0, JOB_MS)))
        .catch(() => undefined);
      firstSigtermMono ??= monoNow();
      victim.signal('SIGTERM');
      // As Kubernetes does, the next new worker starts while the old one terminates.
      if (i < replacements) {
        fresh = spawnNext(i + 1);
      }
      const exit = await victim.exited;
      expect(exit, `${victim.instance} exits 0 after SIGTERM`).toMatchObject({ code: 0 });
      const [pttl, holder] = await Promise.all([
        admin.pttl(s.lockKey),
        admin.hget(s.stateKey, 'holder'),
      ]);
      if (pttl > 0 && holder === victim.instance) {
        stranded.push(`${victim.instance} (PTTL ${pttl} ms after it exited)`);
      }
    }
    console.info(`[faults] rolling deploy: boot times ${bootMs.join(', ')} ms`);
    const lastExitMono = monoNow();
    // A few more occurrences on the new workers, to see that runs go on.
    await s.cluster.waitForRecord('start', (r) => r.mono > lastExitMono + 2 * PERIOD_MS, {
      timeout: 3 * PERIOD_MS + LOAD_MARGIN_MS,
      message: 'runs to go on after the deploy',
    });

    const report = await sampler.stop();
    const records = s.cluster.records();
    const runs = collectRuns(records, s.cluster.workers);
    const sigterms = s.cluster.recordsOf('sigterm', records);
    expect(sigterms).toHaveLength(REPLICAS * ROUNDS);

    // Every occurrence from the first SIGTERM to the last exit ran; at most an occurrence that
    // was current when a SIGTERM came may be lost, and those are named.
    const offset = wallOffset();
    const expected = occurrencesBetween(
      firstSigtermMono! + offset,
      lastExitMono + offset,
      PERIOD_MS,
    );
    const ran = new Set(runs.map((run) => run.scheduledAt));
    const missing = expected.filter((at) => !ran.has(at));
    const inFlightAtSigterm = (at: number): boolean =>
      sigterms.some((r) => r.wall >= at && r.wall < at + PERIOD_MS);
    const excused = missing.filter(inFlightAtSigterm);
    if (excused.length > 0) {
      console.info(
        `[faults] rolling deploy: occurrences current at a SIGTERM that did not run: ` +
          excused.map((at) => new Date(at).toISOString()).join(', '),
      );
    }

    // Every run of a worker that was shut down released its lock (and recorded its outcome)
    // before the process exited.
    const released = new Set(
      s.cluster
        .recordsOf('released', records)
        .filter((r) => r.released)
        .map((r) => `${r.instance}/${r.fencingToken}`),
    );
    const unreleased = runs
      .filter((run) => sigterms.some((r) => r.instance === run.instance))
      .filter((run) => !released.has(`${run.instance}/${run.fencingToken}`))
      .map((run) => describeRun(run));

    expect(expected.length, 'occurrences during the deploy').toBeGreaterThanOrEqual(
      REPLICAS * ROUNDS,
    );
    expectHolds({
      ...alwaysViolations(records, runs),
      'overlapping runs': overlaps(runs),
      'keys without an expiry': expiryViolations(report),
      'locks that outlived their process': stranded,
      'runs of a replaced worker whose lock was not released': unreleased,
      'occurrences missed during the deploy': missing
        .filter((at) => !inFlightAtSigterm(at))
        .map((at) => new Date(at).toISOString()),
    });
  });
});
