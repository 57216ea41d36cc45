// Fault injection across real processes: the lock holder is killed, frozen, or shut down mid-run.
// Each worker is a forked Nest app (fixtures/worker.ts); every run is recorded to a file sink
// outside Redis, and the oracles in support/oracles.ts check the records afterwards.
import { describe, expect, it } from 'vitest';
import { testRedisUrl } from '../support/redis.js';
import {
  alwaysViolations,
  collectRuns,
  expiryViolations,
  liveness,
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
} from './support/scenario.js';

const SEED = baseSeed();
/** The workers' cron: every second. */
const PERIOD_MS = 1_000;
/** Upper bound of the long jobs' duration in these scenarios. */
const LONG_JOB_MS = 6_000;
/** Redis expires keys on its own clock; ours is the monotonic one. Allow for rounding. */
const CLOCK_TOLERANCE_MS = 25;

describe(`process faults (FAULT_SEED=${SEED})`, { timeout: SCENARIO_TIMEOUT_MS }, () => {
  const scenarios = faultScenarios(SEED);

  it('lets nobody run until a SIGKILLed holder’s lock expires, then runs the next occurrence elsewhere', async () => {
    const s = scenarios.begin('sigkill');
    const redis = await s.startRedis();
    const admin = s.client(redis.url);
    const sampler = s.sampleExpiries(redis.url);
    const ttlMs = s.random.int(2_000, 3_000);
    // Runs last longer than the ttl, so the lock the victim holds has been renewed at least once.
    s.spawnWorkers(3, { redisUrl: redis.url, ttlMs, jobMs: 5_000, jobJitterMs: 1_000 });
    await s.cluster.ready();

    // A run that has just begun (runs are long: waiting for one may take a whole run).
    const first = await s.cluster.waitForRecord('start', (r) => r.mono > monoNow() - 300, {
      timeout: LONG_JOB_MS + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'a run that has just begun',
    });
    await hold(s.random.int(300, 1_500));
    const victim = s.cluster.worker(first.instance);
    victim.kill();
    await victim.exited;
    const askedAt = monoNow();
    const pttl = await admin.pttl(s.lockKey);
    // The key expires at the server's read time + pttl, and that read came after askedAt.
    const expiresNoSoonerThan = askedAt + pttl;
    expect(pttl, 'the dead holder’s lock still has an expiry').toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(ttlMs);

    const next = await s.cluster.waitForRecord('start', (r) => r.mono > victim.killedAt!, {
      timeout: ttlMs + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'the next run after the kill',
    });
    expect(next.instance).not.toBe(victim.instance);
    expect(next.mono, 'nobody ran before the dead holder’s lock expired').toBeGreaterThanOrEqual(
      expiresNoSoonerThan - CLOCK_TOLERANCE_MS,
    );
    await s.cluster.waitForRecord('start', (r) => r.mono > next.mono, {
      timeout: 7_000 + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'a second run after the kill',
    });

    const report = await sampler.stop();
    const records = s.cluster.records();
    const runs = collectRuns(records, s.cluster.workers);
    expectHolds({
      ...alwaysViolations(records, runs),
      'overlapping runs': overlaps(runs),
      'keys without an expiry': expiryViolations(report),
      liveness: liveness(
        runs,
        askedAt + pttl,
        PERIOD_MS + LOAD_MARGIN_MS,
        'the dead holder’s lock expired',
      ),
    });
    // At most once: the killed run's occurrence never ran again.
    expect(runs.filter((run) => run.scheduledAt === first.scheduledAt)).toHaveLength(1);
  });

  it('hands a SIGSTOPped holder’s lock to another worker, tells the holder on waking, and fences its writes', async () => {
    const s = scenarios.begin('sigstop');
    const redis = await s.startRedis();
    const sampler = s.sampleExpiries(redis.url);
    // The fenced downstream store lives on another server than the locks.
    const fence = { url: testRedisUrl(), key: `${s.keyPrefix}-fenced`, everyMs: 100 };
    const fenceClient = s.client(fence.url);
    s.defer(() => fenceClient.del(`${fence.key}:highest`, `${fence.key}:writes`));
    const ttlMs = 2_000;
    const renewEveryMs = Math.floor(ttlMs / 3);
    // Jobs ignore ctx.signal and keep writing, like a job that never checks it would.
    s.spawnWorkers(3, { redisUrl: redis.url, ttlMs, jobMs: 3_000, honorSignal: false, fence });
    await s.cluster.ready();

    // A run that has just begun (runs are long: waiting for one may take a whole run).
    const first = await s.cluster.waitForRecord('start', (r) => r.mono > monoNow() - 300, {
      timeout: LONG_JOB_MS + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'a run that has just begun',
    });
    const victim = s.cluster.worker(first.instance);
    await s.cluster.waitForRecord('fenced-write', (r) => r.instance === victim.instance, {
      timeout: LOAD_MARGIN_MS,
      message: 'a first fenced write',
    });
    await hold(s.random.int(100, 700));
    victim.signal('SIGSTOP');
    const stoppedAt = monoNow();

    const takeover = await s.cluster.waitForRecord(
      'start',
      (r) => r.instance !== victim.instance && r.mono > stoppedAt,
      { timeout: ttlMs + PERIOD_MS + LOAD_MARGIN_MS, message: 'another worker to take over' },
    );
    expect(takeover.fencingToken).toBeGreaterThan(first.fencingToken);
    await s.cluster.waitForRecord(
      'fenced-write',
      (r) => r.instance === takeover.instance && r.fencingToken === takeover.fencingToken,
      { timeout: LOAD_MARGIN_MS, message: 'the new holder’s first write' },
    );
    // Frozen for longer than the ttl, for a seeded extra while.
    await hold(Math.max(0, stoppedAt + ttlMs + 200 - monoNow()) + s.random.int(0, 500));
    victim.signal('SIGCONT');
    const wokeAt = monoNow();

    const abort = await s.cluster.waitForRecord(
      'abort',
      (r) => r.instance === victim.instance && r.fencingToken === first.fencingToken,
      { timeout: renewEveryMs + LOAD_MARGIN_MS, message: 'the woken holder’s signal to abort' },
    );
    expect(abort.errorName).toBe('LockLostError');
    expect(abort.mono - wokeAt, 'told within one renew interval of waking').toBeLessThanOrEqual(
      renewEveryMs + LOAD_MARGIN_MS,
    );
    const released = await s.cluster.waitForRecord(
      'released',
      (r) => r.instance === victim.instance && r.fencingToken === first.fencingToken,
      { timeout: 3_000 + LOAD_MARGIN_MS, message: 'the stale holder to finish and release' },
    );
    expect(
      released.released,
      'the stale holder’s release did not delete the new holder’s lock',
    ).toBe(false);

    const report = await sampler.stop();
    const records = s.cluster.records();
    const runs = collectRuns(records, s.cluster.workers);
    const writes = s.cluster.recordsOf('fenced-write', records);
    // Writes of the stale run sent after waking (one sent just before the freeze may be answered
    // after it). Not the instance's later runs: once its stale run ended, it may take a later
    // occurrence's lock, with a higher fence, and those writes are rightly accepted.
    const staleWrites = writes.filter(
      (w) =>
        w.instance === victim.instance &&
        w.fencingToken === first.fencingToken &&
        w.sentMono > wokeAt,
    );
    expect(staleWrites.length, 'the stale holder attempted writes after waking').toBeGreaterThan(0);
    expect(
      staleWrites.filter((w) => w.accepted),
      'stale writes the fenced store accepted',
    ).toEqual([]);
    expect(
      writes.filter((w) => w.instance === victim.instance && w.mono < stoppedAt && w.accepted)
        .length,
      'the holder’s writes before the freeze were accepted',
    ).toBeGreaterThan(0);
    expect(
      s.cluster
        .recordsOf('lost', records)
        .some((r) => r.instance === victim.instance && r.fencingToken === first.fencingToken),
      'a lost event on the woken holder',
    ).toBe(true);
    expectHolds({
      ...alwaysViolations(records, runs),
      'overlaps not detected or not fenceable': undetectedOverlaps(runs, records),
      'keys without an expiry': expiryViolations(report),
    });
  });

  it('finishes or aborts the running job on SIGTERM, exits 0, and never lets another run overlap it', async () => {
    const s = scenarios.begin('sigterm');
    const admin = s.client(testRedisUrl());
    const sampler = s.sampleExpiries(testRedisUrl());
    const ttlMs = 3_000;
    const shutdownTimeoutMs = 1_000;
    // Runs of 2–2.5 s: a SIGTERM near the end of one leaves less than shutdownTimeout to wait
    // (the job finishes), one near its start leaves more (the job is aborted).
    s.spawnWorkers(3, {
      redisUrl: testRedisUrl(),
      ttlMs,
      jobMs: 2_000,
      jobJitterMs: 500,
      shutdownTimeoutMs,
    });
    const readyAt = await s.cluster.ready();

    // A deploy stops a worker whose job can finish in time…
    const finishing = await s.cluster.waitForRecord('start', (r) => r.mono > readyAt, {
      timeout: 2_500 + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'a first run',
    });
    await hold(finishing.mono + finishing.durationMs - s.random.int(400, 800) - monoNow());
    const first = s.cluster.worker(finishing.instance);
    first.signal('SIGTERM');
    const firstExit = await first.exited;
    expect(firstExit.code, `${first.instance} exit code`).toBe(0);

    // …and one whose job outlasts its shutdownTimeout.
    const aborting = await s.cluster.waitForRecord('start', (r) => r.mono > firstExit.mono, {
      timeout: 2_500 + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'a run after the first deploy',
    });
    await hold(aborting.mono + s.random.int(200, 400) - monoNow());
    const second = s.cluster.worker(aborting.instance);
    second.signal('SIGTERM');
    await s.cluster.waitForRecord(
      'end',
      (r) => r.instance === aborting.instance && r.fencingToken === aborting.fencingToken,
      {
        timeout: shutdownTimeoutMs + LOAD_MARGIN_MS,
        message: 'the job to end when shutdownTimeout runs out',
      },
    );
    const askedAt = monoNow();
    const pttl = await admin.pttl(s.lockKey);
    expect(pttl, 'the aborted run’s lock is left to expire, not released').toBeGreaterThan(0);
    const secondExit = await second.exited;
    expect(secondExit.code, `${second.instance} exit code`).toBe(0);

    const next = await s.cluster.waitForRecord('start', (r) => r.mono > askedAt, {
      timeout: ttlMs + PERIOD_MS + LOAD_MARGIN_MS,
      message: 'a run after the second deploy',
    });
    expect(next.mono, 'nobody ran before the abandoned lock expired').toBeGreaterThanOrEqual(
      askedAt + pttl - CLOCK_TOLERANCE_MS,
    );

    const report = await sampler.stop();
    const records = s.cluster.records();
    const runs = collectRuns(records, s.cluster.workers);
    const ofRun = <T extends { instance: string; fencingToken: number }>(
      list: T[],
      run: typeof finishing,
    ) => list.filter((r) => r.instance === run.instance && r.fencingToken === run.fencingToken);

    // The first worker was mid-run at SIGTERM, finished its job, released the lock.
    const firstSigterm = s.cluster
      .recordsOf('sigterm', records)
      .find((r) => r.instance === first.instance);
    expect(firstSigterm!.mono, 'SIGTERM came mid-run').toBeLessThan(
      ofRun(s.cluster.recordsOf('end', records), finishing)[0]?.mono ?? 0,
    );
    expect(ofRun(s.cluster.recordsOf('end', records), finishing)).toMatchObject([
      { aborted: false },
    ]);
    expect(ofRun(s.cluster.recordsOf('released', records), finishing)).toMatchObject([
      { released: true },
    ]);
    // The second one aborted its job when shutdownTimeout ran out, and did not release.
    expect(ofRun(s.cluster.recordsOf('abort', records), aborting)).toMatchObject([
      { errorName: 'ShutdownTimeoutError' },
    ]);
    expect(ofRun(s.cluster.recordsOf('released', records), aborting)).toEqual([]);
    // Neither took a tick after SIGTERM.
    for (const worker of [first, second]) {
      const sigterm = s.cluster
        .recordsOf('sigterm', records)
        .find((r) => r.instance === worker.instance);
      expect(sigterm, `${worker.instance} recorded SIGTERM`).toBeDefined();
      expect(
        runs.filter((run) => run.instance === worker.instance && run.start > sigterm!.mono),
      ).toEqual([]);
    }
    expectHolds({
      ...alwaysViolations(records, runs),
      'overlapping runs': overlaps(runs),
      'keys without an expiry': expiryViolations(report),
    });
  });
});
