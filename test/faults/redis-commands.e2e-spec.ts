// Fault injection across real processes: other clients of the lock's Redis flush its scripts,
// kill its connections, or delete/expire the lock key under a running job.
import { describe, expect, it } from 'vitest';
import {
  alwaysViolations,
  collectRuns,
  expiryViolations,
  overlaps,
  undetectedOverlaps,
} from './support/oracles.js';
import { baseSeed } from './support/prng.js';
import { monoNow } from './support/records.js';
import {
  expectHolds,
  faultScenarios,
  hold,
  LOAD_MARGIN_MS,
  SCENARIO_TIMEOUT_MS,
  RECONNECT_BACKOFF_MAX_MS,
} from './support/scenario.js';

const SEED = baseSeed();
/** The workers' cron: every second. */
const PERIOD_MS = 1_000;

describe(
  `Redis commands from other clients (FAULT_SEED=${SEED})`,
  { timeout: SCENARIO_TIMEOUT_MS },
  () => {
    const scenarios = faultScenarios(SEED);

    it('keeps running through SCRIPT FLUSH and CLIENT KILL without a double run', async () => {
      const s = scenarios.begin('flush-and-kill');
      const redis = await s.startRedis();
      const admin = s.client(redis.url);
      const sampler = s.sampleExpiries(redis.url);
      const jobMaxMs = 2_200;
      // Runs longer than a renew interval (ttl/3 = 1 s), so connections are killed with a renewal due.
      s.spawnWorkers(3, { redisUrl: redis.url, ttlMs: 3_000, jobMs: 1_500, jobJitterMs: 700 });
      await s.cluster.ready();

      // SCRIPT FLUSH between runs: the next acquire meets NOSCRIPT and must still run.
      let since = monoNow();
      for (let i = 0; i < 2; i++) {
        await s.cluster.waitForRecord('released', (r) => r.mono > since, {
          timeout: jobMaxMs + PERIOD_MS + LOAD_MARGIN_MS,
          message: 'a run to end',
        });
        expect(await admin.script('FLUSH')).toBe('OK');
        const flushedAt = monoNow();
        await s.cluster.waitForRecord('start', (r) => r.mono > flushedAt, {
          timeout: PERIOD_MS + LOAD_MARGIN_MS,
          message: 'a run after SCRIPT FLUSH',
        });
        since = monoNow();
      }
      const flushStoreErrors = s.cluster
        .recordsOf('store-error')
        .map((r) => `${r.instance}: ${r.message}`);
      expect(flushStoreErrors, 'store errors caused by SCRIPT FLUSH').toEqual([]);

      // CLIENT KILL during a run: every connection but ours drops, the holder's included.
      const holder = await s.cluster.waitForRecord('start', (r) => r.mono > monoNow() - 300, {
        timeout: jobMaxMs + PERIOD_MS + LOAD_MARGIN_MS,
        message: 'a run that has just begun',
      });
      await hold(s.random.int(200, 900));
      const killed = Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'normal'));
      expect(killed, 'connections killed (the three workers’ among them)').toBeGreaterThanOrEqual(
        3,
      );
      const killedAt = monoNow();
      await s.cluster.waitForRecord(
        'end',
        (r) => r.instance === holder.instance && r.fencingToken === holder.fencingToken,
        { timeout: jobMaxMs + LOAD_MARGIN_MS, message: 'the holder’s run to end' },
      );
      await s.cluster.waitForRecord(
        'start',
        (r) => r.mono > killedAt && r.fencingToken > holder.fencingToken,
        {
          timeout: jobMaxMs + PERIOD_MS + RECONNECT_BACKOFF_MAX_MS + LOAD_MARGIN_MS,
          message: 'a run after CLIENT KILL',
        },
      );

      const report = await sampler.stop();
      const records = s.cluster.records();
      const runs = collectRuns(records, s.cluster.workers);
      const holderRun = runs.find(
        (run) => run.instance === holder.instance && run.fencingToken === holder.fencingToken,
      );
      const holderTold = s.cluster
        .recordsOf('lost', records)
        .some((r) => r.instance === holder.instance && r.fencingToken === holder.fencingToken);
      // The holder survives the dropped connection (it reconnects and renews), or is told.
      expect(
        holderRun?.outcome === 'completed' || holderTold,
        'the holder completed or was told',
      ).toBe(true);
      expectHolds({
        ...alwaysViolations(records, runs),
        'overlapping runs': overlaps(runs),
        'keys without an expiry': expiryViolations(report),
      });
    });

    it('detects a third-party DEL or PEXPIRE of the lock key, and leaves the next holder’s key alone', async () => {
      const s = scenarios.begin('key-tampering');
      const redis = await s.startRedis();
      const admin = s.client(redis.url);
      const sampler = s.sampleExpiries(redis.url);
      const ttlMs = 3_000;
      const jobMs = 3_000;
      // Jobs ignore ctx.signal and run to the end, so the stale holder is still running (and
      // releases late) after the next holder took the lock.
      s.spawnWorkers(3, { redisUrl: redis.url, ttlMs, jobMs, honorSignal: false });
      await s.cluster.ready();

      let since = monoNow();
      for (const fault of s.random.shuffle(['DEL', 'PEXPIRE 1'] as const)) {
        const victim = await s.cluster.waitForRecord(
          'start',
          (r) => r.mono > since && r.mono > monoNow() - 300,
          {
            timeout: jobMs + PERIOD_MS + LOAD_MARGIN_MS,
            message: `a run that has just begun (before ${fault})`,
          },
        );
        const sameRun = (run: typeof victim) => (r: { instance: string; fencingToken: number }) =>
          r.instance === run.instance && r.fencingToken === run.fencingToken;
        await hold(s.random.int(200, 700));
        const changed =
          fault === 'DEL' ? await admin.del(s.lockKey) : await admin.pexpire(s.lockKey, 1);
        expect(changed, `${fault} found the lock key`).toBe(1);
        const faultAt = monoNow();

        const lost = await s.cluster.waitForRecord('lost', sameRun(victim), {
          timeout: ttlMs / 3 + LOAD_MARGIN_MS,
          message: `the holder to notice the ${fault}`,
        });
        expect(['expired', 'taken']).toContain(lost.reason);
        const successor = await s.cluster.waitForRecord('start', (r) => r.mono > faultAt, {
          timeout: PERIOD_MS + LOAD_MARGIN_MS,
          message: `another run to take the lock after the ${fault}`,
        });
        const victimEnd = await s.cluster.waitForRecord('end', sameRun(victim), {
          timeout: jobMs + LOAD_MARGIN_MS,
          message: 'the stale holder’s run to end',
        });
        expect(
          successor.mono,
          'the next holder took the lock while the stale one still ran',
        ).toBeLessThan(victimEnd.mono);
        const victimRelease = await s.cluster.waitForRecord('released', sameRun(victim), {
          timeout: LOAD_MARGIN_MS,
          message: 'the stale holder’s release',
        });
        expect(victimRelease.released, 'the stale holder’s release deleted nothing').toBe(false);
        const successorRelease = await s.cluster.waitForRecord('released', sameRun(successor), {
          timeout: jobMs + LOAD_MARGIN_MS,
          message: 'the next holder’s release',
        });
        expect(successorRelease.released, 'the next holder still owned its key at the end').toBe(
          true,
        );
        expect(
          s.cluster.recordsOf('lost').filter(sameRun(successor)),
          'the next holder lost nothing',
        ).toEqual([]);
        since = successorRelease.mono;
      }

      const report = await sampler.stop();
      const records = s.cluster.records();
      const runs = collectRuns(records, s.cluster.workers);
      expectHolds({
        ...alwaysViolations(records, runs),
        'overlaps not detected or not fenceable': undetectedOverlaps(runs, records),
        'keys without an expiry': expiryViolations(report),
      });
    });
  },
);
