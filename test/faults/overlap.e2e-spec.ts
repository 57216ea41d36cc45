// Overlap policies across processes (issue: scheduler-grade occurrences): three workers run a job
// that fires every 2 seconds and takes 3 (1.5 periods), so every occurrence is due while the
// previous run still holds the lock somewhere. Under `overlap: 'queue'` it waits and runs after the
// holder released, or merges into the one already queued; under `'replace'` it takes over from the
// holder, whose `ctx.signal` aborts with ReplacedError. A holder SIGKILLed mid-run does not strand
// the occurrence queued behind it. Every worker is a forked Nest app (fixtures/worker.ts) that
// records its runs to a file sink outside the store; the checks read those records. Same
// scenarios on Redis and on PostgreSQL.
import { describe, expect, it } from 'vitest';
import { BACKENDS, onBackend } from './support/backends.js';
import {
  alwaysViolations,
  collectRuns,
  describeRun,
  occurrencesBetween,
  overlaps,
} from './support/oracles.js';
import { baseSeed } from './support/prng.js';
import { monoNow } from './support/records.js';
import {
  expectHolds,
  faultScenarios,
  hold,
  LOAD_MARGIN_MS,
  wallOffset,
} from './support/scenario.js';
import { ranOnceOrMerged } from './support/scheduling-oracles.js';

const SEED = baseSeed();
const PERIOD_MS = 2_000;
const CRON = '*/2 * * * * *';
/** 1.5 periods: the next occurrence is always due while a run holds the lock. */
const JOB_MS = 3_000;
/** How long a worker may take to boot on a loaded machine. */
const BOOT_TIMEOUT_MS = 60_000;
/** A boot of up to a minute on a loaded machine, then about 20 s of runs. */
const TIMEOUT_MS = 120_000;
/** Redis and PostgreSQL expire locks on their own clocks; ours is the monotonic one. */
const CLOCK_TOLERANCE_MS = 50;

// Each backend's scenarios share nothing with the other's (a key prefix or a table, workers and
// sink folders of their own): the two backends run side by side (`describe.concurrent`), the
// scenarios of one backend one after the other (`it.sequential`), as the per-suite cleanup wants.
describe.concurrent.each(BACKENDS)(
  `overlap policies on %s (FAULT_SEED=${SEED})`,
  { timeout: TIMEOUT_MS },
  (backend) => {
    const scenarios = faultScenarios(SEED);

    it.sequential(
      'queue: every occurrence of a job that takes 1.5 periods runs once or is recorded as merged, and no two runs overlap',
      async () => {
        const s = scenarios.begin(`queue-${backend}`);
        const store = onBackend(s, backend);
        s.spawnWorkers(3, {
          ...store.worker,
          cron: CRON,
          ttlMs: 6_000,
          jobMs: JOB_MS,
          overlap: 'queue',
        });
        const readyAt = await s.cluster.ready(BOOT_TIMEOUT_MS);

        // Six runs of 3 s: the queue fills at once and stays full, so later occurrences merge.
        const runsWanted = 6;
        await s.cluster.waitForRecord(
          'start',
          (r) =>
            r.mono > readyAt &&
            s.cluster.recordsOf('start').filter((x) => x.mono > readyAt).length >= runsWanted,
          { timeout: runsWanted * (JOB_MS + LOAD_MARGIN_MS), message: `${runsWanted} runs` },
        );

        const records = s.cluster.records();
        const runs = collectRuns(records, s.cluster.workers);
        const observed = runs.filter((run) => run.start > readyAt);
        // Every occurrence from the first observed run to the last one that started has been decided:
        // the queue holds one occurrence at most, and the marker only moves forward.
        const decided = occurrencesBetween(
          observed[0].scheduledAt,
          Math.max(...observed.map((run) => run.scheduledAt)),
          PERIOD_MS,
        );
        expectHolds({
          ...alwaysViolations(records, runs),
          'overlapping runs': overlaps(runs),
          'occurrences neither run once nor merged': ranOnceOrMerged(runs, records, decided),
        });
        expect(
          decided.filter((at) => !runs.some((run) => run.scheduledAt === at)).length,
          'occurrences merged (a job of 1.5 periods cannot run them all)',
        ).toBeGreaterThan(0);
      },
    );

    it.sequential(
      'replace: the holder is told within one renew interval, and the next run starts only after it released',
      async () => {
        const s = scenarios.begin(`replace-${backend}`);
        const store = onBackend(s, backend);
        const ttlMs = 3_000;
        const renewEveryMs = Math.floor(ttlMs / 3);
        s.spawnWorkers(3, {
          ...store.worker,
          cron: CRON,
          ttlMs,
          jobMs: JOB_MS,
          overlap: 'replace',
        });
        const readyAt = await s.cluster.ready(BOOT_TIMEOUT_MS);

        const replacedWanted = 3;
        await s.cluster.waitForRecord(
          'released',
          () =>
            s.cluster
              .recordsOf('abort')
              .filter((r) => r.mono > readyAt && r.errorName === 'ReplacedError').length >=
            replacedWanted,
          {
            timeout: (replacedWanted + 1) * PERIOD_MS + 2 * LOAD_MARGIN_MS,
            message: `${replacedWanted} replaced runs`,
          },
        );
        // The run that replaced the last of them has started (and so has been checked below).
        const lastAbort = s.cluster
          .recordsOf('abort')
          .filter((r) => r.errorName === 'ReplacedError')
          .at(-1)!;
        await s.cluster.waitForRecord('start', (r) => r.scheduledAt > lastAbort.scheduledAt, {
          timeout: ttlMs + LOAD_MARGIN_MS,
          message: 'the run that replaced the last holder',
        });

        const records = s.cluster.records();
        const runs = collectRuns(records, s.cluster.workers);
        const offset = wallOffset();
        const told: string[] = [];
        const releasedFirst: string[] = [];
        for (const abort of s.cluster.recordsOf('abort', records)) {
          if (abort.errorName !== 'ReplacedError') {
            told.push(
              `${abort.instance} fence ${abort.fencingToken} aborted with ${abort.errorName}`,
            );
            continue;
          }
          const replaced = runs.find(
            (run) => run.instance === abort.instance && run.fencingToken === abort.fencingToken,
          )!;
          const successor = runs
            .filter((run) => run.scheduledAt > replaced.scheduledAt)
            .sort((a, b) => a.scheduledAt - b.scheduledAt)[0];
          if (!successor) continue;
          // The replacing occurrence was due at its wall time: on the monotonic clock, this.
          const dueAt = successor.scheduledAt - offset;
          if (abort.mono - dueAt > renewEveryMs + LOAD_MARGIN_MS) {
            told.push(
              `${describeRun(replaced)} was told ${Math.round(abort.mono - dueAt)} ms after ${new Date(successor.scheduledAt).toISOString()} was due (bound: one renew interval, ${renewEveryMs} ms, + margin)`,
            );
          }
          const release = s.cluster
            .recordsOf('released', records)
            .find(
              (r) => r.instance === replaced.instance && r.fencingToken === replaced.fencingToken,
            );
          if (!(successor.start >= replaced.end) || !release?.released) {
            releasedFirst.push(
              `${describeRun(successor)} started while ${describeRun(replaced)} had not released (released: ${release?.released})`,
            );
          }
        }
        const observed = runs.filter((run) => run.start > readyAt);
        expectHolds({
          ...alwaysViolations(records, runs),
          'overlapping runs': overlaps(runs),
          'holders told late or with the wrong reason': told,
          'runs started before the replaced holder released': releasedFirst,
          // Each occurrence replaces the previous run, so every one of them runs.
          'occurrences not run exactly once': occurrencesBetween(
            observed[0].scheduledAt,
            Math.max(...observed.map((run) => run.scheduledAt)),
            PERIOD_MS,
          ).flatMap((at) => {
            const count = runs.filter((run) => run.scheduledAt === at).length;
            return count === 1 ? [] : [`${new Date(at).toISOString()} ran ${count} times`];
          }),
        });
      },
    );

    it.sequential(
      'queue: a holder SIGKILLed mid-run does not strand the occurrence queued behind it beyond its ttl',
      async () => {
        const s = scenarios.begin(`queue-kill-${backend}`);
        const store = onBackend(s, backend);
        const ttlMs = s.random.int(3_000, 4_000);
        s.spawnWorkers(3, { ...store.worker, cron: CRON, ttlMs, jobMs: JOB_MS, overlap: 'queue' });
        const readyAt = await s.cluster.ready(BOOT_TIMEOUT_MS);

        // A run, and the next occurrence due while it runs: that one is queued behind it.
        const victimRun = await s.cluster.waitForRecord('start', (r) => r.mono > readyAt, {
          timeout: JOB_MS + PERIOD_MS + LOAD_MARGIN_MS,
          message: 'a first run',
        });
        const queued = Math.floor(victimRun.wall / PERIOD_MS) * PERIOD_MS + PERIOD_MS;
        await hold(Math.max(0, queued + s.random.int(200, 600) - Date.now()));
        const victim = s.cluster.worker(victimRun.instance);
        const ended = s.cluster
          .recordsOf('end')
          .some((r) => r.instance === victim.instance && r.fencingToken === victimRun.fencingToken);
        expect(ended, 'the victim is still running when it is killed').toBe(false);
        victim.kill();
        await victim.exited;
        const askedAt = monoNow();
        const state = await store.inspect();
        expect(state.holder, 'the dead holder still holds the lock').toBe(victim.instance);
        expect(state.ttlLeft).toBeGreaterThan(0);
        const expiresNoSoonerThan = askedAt + (state.ttlLeft ?? 0);

        const next = await s.cluster.waitForRecord('start', (r) => r.mono > victim.killedAt!, {
          timeout: ttlMs + LOAD_MARGIN_MS,
          message: 'the queued occurrence to run after the dead holder’s lock expired',
        });
        expect(next.scheduledAt, 'the occurrence queued behind the dead holder runs next').toBe(
          queued,
        );
        expect(
          next.mono,
          'nobody ran before the dead holder’s lock expired',
        ).toBeGreaterThanOrEqual(expiresNoSoonerThan - CLOCK_TOLERANCE_MS);
        expect(
          next.mono - victim.killedAt!,
          'the queued occurrence waited at most one ttl',
        ).toBeLessThanOrEqual(ttlMs + LOAD_MARGIN_MS);

        const records = s.cluster.records();
        const runs = collectRuns(records, s.cluster.workers);
        expectHolds({
          ...alwaysViolations(records, runs),
          'overlapping runs': overlaps(runs),
        });
        // At most once: the killed run's occurrence never ran again.
        expect(runs.filter((run) => run.scheduledAt === victimRun.scheduledAt)).toHaveLength(1);
      },
    );
  },
);
