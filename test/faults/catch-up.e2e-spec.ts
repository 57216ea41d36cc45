// Catch-up across processes (issue: scheduler-grade occurrences): three workers run a job that
// fires every 3 seconds, all three are stopped (SIGTERM and SIGKILL) for two occurrences, then one
// is started again, and later all three at once. Every worker is a forked Nest app
// (fixtures/worker.ts) recording its runs, with `ctx.trigger`, to a file sink outside the store;
// the checks below read those records. Same scenarios on Redis and on PostgreSQL.
import { describe, expect, it } from 'vitest';
import { BACKENDS, onBackend, type BackendHandle } from './support/backends.js';
import type { FaultWorker, WorkerOptions } from './support/cluster.js';
import { alwaysViolations, collectRuns, occurrencesBetween, overlaps } from './support/oracles.js';
import { baseSeed } from './support/prng.js';
import { monoNow } from './support/records.js';
import {
  expectHolds,
  faultScenarios,
  hold,
  LOAD_MARGIN_MS,
  type Scenario,
} from './support/scenario.js';
import {
  firstTickAfter,
  inOccurrenceOrder,
  neverRan,
  ranOnceAs,
  reportedMissedOnce,
  withTriggers,
  type TriggeredRun,
} from './support/scheduling-oracles.js';

const SEED = baseSeed();
/** The job fires every 3 seconds. */
const PERIOD_MS = 3_000;
const CRON = '*/3 * * * * *';
/** Short runs: a run never holds the lock when the next occurrence is due. */
const JOB_MS = 200;
const TTL_MS = 5_000;
/** How long a worker may take to boot on a loaded machine. */
const BOOT_TIMEOUT_MS = 60_000;
/** Two rounds of stop, outage and restart: more than one plain scenario. */
const TIMEOUT_MS = 180_000;

type Mode = 'latest' | 'all';

describe.each(BACKENDS)(
  `catch-up after the whole fleet was down, on %s (FAULT_SEED=${SEED})`,
  (backend) => {
    const scenarios = faultScenarios(SEED);

    /**
     * Stops every live worker (the first and last with SIGTERM, as a deploy does, the others with
     * SIGKILL, as a crash does) once no run is in progress, and returns the last occurrence the
     * store says was claimed.
     */
    async function stopAll(
      s: Scenario,
      store: BackendHandle,
      live: FaultWorker[],
    ): Promise<number> {
      await idle(s);
      live.forEach((worker, i) =>
        i === 0 || i === live.length - 1 ? worker.signal('SIGTERM') : worker.kill(),
      );
      const exits = await Promise.all(live.map((worker) => worker.exited));
      for (const [i, exit] of exits.entries()) {
        if (i === 0) expect(exit.code, `${live[i].instance} exit code after SIGTERM`).toBe(0);
      }
      const { lastTick } = await store.inspect();
      expect(lastTick, 'the store remembers the last occurrence claimed').not.toBeNull();
      return lastTick!;
    }

    /** Waits until every run that started has ended (runs are short). */
    async function idle(s: Scenario): Promise<void> {
      await s.cluster.waitForRecord(
        'ready',
        () => {
          const records = s.cluster.records();
          const ended = new Set(
            s.cluster.recordsOf('end', records).map((r) => `${r.instance}/${r.fencingToken}`),
          );
          return s.cluster
            .recordsOf('start', records)
            .every((r) => ended.has(`${r.instance}/${r.fencingToken}`));
        },
        { timeout: JOB_MS + LOAD_MARGIN_MS, message: 'no run in progress' },
      );
    }

    /** Waits (the outage) until `count` occurrences after `lastTick` have passed. */
    async function missOccurrences(lastTick: number, count: number): Promise<number[]> {
      const until = lastTick + count * PERIOD_MS + 250;
      await hold(Math.max(0, until - Date.now()));
      return occurrencesBetween(lastTick + 1, Date.now(), PERIOD_MS);
    }

    /**
     * Starts `count` fresh workers and waits until one of them ran a scheduled (not catch-up)
     * occurrence to its end: by then every catch-up of the restart is over.
     */
    async function restart(
      s: Scenario,
      shared: Omit<WorkerOptions, 'instance' | 'seed' | 'keyPrefix'>,
      count: number,
    ): Promise<{ workers: FaultWorker[]; spawnedAt: number; bootedBy: number }> {
      const spawnedAt = monoNow();
      const first = s.cluster.workers.length + 1;
      const workers = Array.from({ length: count }, (_, i) =>
        s.cluster.spawn({
          ...shared,
          instance: `w${first + i}`,
          keyPrefix: s.keyPrefix,
          seed: s.random.fork(),
        }),
      );
      await s.cluster.ready(BOOT_TIMEOUT_MS, workers);
      const scheduled = await s.cluster.waitForRecord(
        'start',
        (r) => r.mono > spawnedAt && r.trigger === 'schedule',
        {
          timeout: PERIOD_MS * 3 + LOAD_MARGIN_MS,
          message: 'a scheduled run after the restart',
        },
      );
      await s.cluster.waitForRecord(
        'end',
        (r) => r.instance === scheduled.instance && r.fencingToken === scheduled.fencingToken,
        { timeout: JOB_MS + LOAD_MARGIN_MS, message: 'the scheduled run to end' },
      );
      const bootedBy = Math.max(
        ...s.cluster
          .recordsOf('ready')
          .filter((r) => workers.some((w) => w.instance === r.instance))
          .map((r) => r.wall),
      );
      return { workers, spawnedAt, bootedBy };
    }

    /**
     * What one restart must show. `lastTick` is the last occurrence claimed before the outage,
     * `outage` the occurrences that passed before any restarted worker existed, `bootedBy` the wall
     * time by which the restarted workers were up (an occurrence after it is theirs to schedule).
     * Under `'all'` every occurrence since `lastTick` runs once, those of the outage as catch-ups,
     * oldest first. Under `'latest'` one occurrence no older than the outage's latest is caught up,
     * the older ones never run and are reported missed once fleet-wide, and every occurrence after
     * the caught-up one runs once, as scheduled or caught up.
     */
    function restartViolations(
      mode: Mode,
      runs: TriggeredRun[],
      records: ReturnType<Scenario['cluster']['records']>,
      round: { lastTick: number; outage: number[]; bootedBy: number; spawnedAt: number },
    ): Record<string, string[]> {
      const after = runs.filter((run) => run.start > round.spawnedAt);
      const catchUps = after.filter((run) => run.trigger === 'catch-up');
      const lastRun = Math.max(...after.map((run) => run.scheduledAt));
      const onceEach = (occurrences: number[]): string[] =>
        occurrences.flatMap((at) => {
          const count = runs.filter((run) => run.scheduledAt === at).length;
          return count === 1 ? [] : [`${new Date(at).toISOString()} ran ${count} times`];
        });
      if (mode === 'all') {
        return {
          'outage occurrences not caught up exactly once': ranOnceAs(
            after,
            round.outage,
            'catch-up',
          ),
          'catch-ups not run oldest first': inOccurrenceOrder(catchUps),
          'occurrences since the outage not run exactly once': onceEach(
            occurrencesBetween(round.lastTick + 1, lastRun, PERIOD_MS),
          ),
        };
      }
      // The restarted workers' first tick: what was due before it was missed; it was not.
      const firstTick = firstTickAfter(records, round.spawnedAt);
      const missed = occurrencesBetween(round.lastTick + 1, firstTick - 1, PERIOD_MS);
      const latest = missed.at(-1)!;
      const caughtUp = catchUps.filter((run) => run.scheduledAt <= latest);
      const older = missed.filter((at) => at !== latest);
      return {
        'catch-ups (expected exactly one, of the latest occurrence before the first tick)':
          caughtUp.length === 1 && caughtUp[0].scheduledAt === latest
            ? []
            : [
                `caught up ${caughtUp.length} (${caughtUp.map((run) => new Date(run.scheduledAt).toISOString()).join(', ')}); ` +
                  `expected ${new Date(latest).toISOString()}, the latest before the first tick (${new Date(firstTick).toISOString()})`,
              ],
        'older missed occurrences that ran': neverRan(after, older),
        'older missed occurrences not reported missed once, fleet-wide': reportedMissedOnce(
          records,
          older,
        ),
        'occurrences after the catch-up not run exactly once': onceEach(
          occurrencesBetween(latest + 1, lastRun, PERIOD_MS),
        ),
      };
    }

    it.each<Mode>(['latest', 'all'])(
      "catchUp '%s': one restarted worker, then all three at once, catch up what the fleet missed, each occurrence once",
      { timeout: TIMEOUT_MS },
      async (mode) => {
        const s = scenarios.begin(`catch-up-${mode}-${backend}`);
        const store = onBackend(s, backend);
        const shared = {
          ...store.worker,
          cron: CRON,
          ttlMs: TTL_MS,
          jobMs: JOB_MS,
          catchUp: mode,
          shutdownTimeoutMs: 5_000,
        } satisfies Omit<WorkerOptions, 'instance' | 'seed' | 'keyPrefix'>;
        s.spawnWorkers(3, shared);
        const readyAt = await s.cluster.ready(BOOT_TIMEOUT_MS);
        await s.cluster.waitForRecord('end', (r) => r.mono > readyAt, {
          timeout: PERIOD_MS + JOB_MS + LOAD_MARGIN_MS,
          message: 'a first run of the fleet',
        });

        // Round 1: the whole fleet is down for two occurrences; one worker comes back.
        const lastTick = await stopAll(s, store, [...s.cluster.workers]);
        const outage = await missOccurrences(lastTick, 2);
        expect(outage.length).toBeGreaterThanOrEqual(2);
        const one = await restart(s, shared, 1);
        const firstRecords = s.cluster.records();
        const firstRuns = withTriggers(collectRuns(firstRecords, s.cluster.workers), firstRecords);
        expectHolds(restartViolations(mode, firstRuns, firstRecords, { lastTick, outage, ...one }));

        // Round 2: down again for two occurrences; all three come back together.
        const lastTick2 = await stopAll(s, store, one.workers);
        const outage2 = await missOccurrences(lastTick2, 2);
        const three = await restart(s, shared, 3);

        const records = s.cluster.records();
        const runs = withTriggers(collectRuns(records, s.cluster.workers), records);
        expectHolds({
          ...alwaysViolations(records, runs),
          'overlapping runs': overlaps(runs),
          ...restartViolations(mode, runs, records, {
            lastTick: lastTick2,
            outage: outage2,
            ...three,
          }),
        });
        expect(
          runs.filter((run) => run.trigger === 'catch-up' && run.start < one.spawnedAt),
          'no catch-up while the first fleet ran: nothing was missed then',
        ).toEqual([]);
      },
    );
  },
);
