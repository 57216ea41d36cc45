// Catch-up and overlap policies when a process faults in the middle of them: three workers
// catch up what the fleet missed (`catchUp: 'all'`) and the one running the catch-up is killed
// with SIGKILL; under `overlap: 'queue'`, the holder that queued the next occurrence behind its
// own run is killed or stopped (SIGTERM) while the others' ticks merge into it. Every worker is
// a forked Nest app (fixtures/worker.ts) that records its runs to a file sink outside the store;
// the checks read those records. On Redis and on PostgreSQL.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/redis.js';
import { BACKENDS, onBackend } from './support/backends.js';
import { BOOT_TIMEOUT_MS } from './support/cluster.js';
import { alwaysViolations, collectRuns, occurrencesBetween, overlaps } from './support/oracles.js';
import { baseSeed } from './support/prng.js';
import { monoNow } from './support/records.js';
import { expectHolds, faultScenarios, hold, LOAD_MARGIN_MS } from './support/scenario.js';
import { firstTickAfter, ranOnceAs, withTriggers } from './support/scheduling-oracles.js';

const SEED = baseSeed();
/** The job fires every 2 seconds. */
const PERIOD_MS = 2_000;
const CRON = '*/2 * * * * *';
/**
 * Long enough for the test to see a catch-up run start and kill its worker mid-run; not a divisor
 * of the period, so that back-to-back catch-up runs do not end just as a tick is due.
 */
const JOB_MS = 900;
const TTL_MS = 3_000;
/** Each scenario waits for two boots in turn, then runs for about a minute. */
const TIMEOUT_MS = 2 * BOOT_TIMEOUT_MS + 60_000;

// Each backend's scenarios share nothing with the other's (a key prefix or a table, workers and
// sink folders of their own): the two backends run side by side (`describe.concurrent`), the
// scenarios of one backend one after the other (`it.sequential`), as the per-suite cleanup wants.
describe.concurrent.each(BACKENDS)(
  `catch-up and overlap under process faults, on %s (FAULT_SEED=${SEED})`,
  { timeout: TIMEOUT_MS },
  (backend) => {
    const scenarios = faultScenarios(SEED);

    it.sequential(
      "catchUp 'all': the occurrences still to catch up run once each after the worker catching up is SIGKILLed",
      async () => {
        const s = scenarios.begin(`catch-up-kill-${backend}`);
        const store = onBackend(s, backend);
        const shared = {
          ...store.worker,
          cron: CRON,
          ttlMs: TTL_MS,
          jobMs: JOB_MS,
          catchUp: 'all' as const,
        };

        // One worker leaves the store an occurrence marker, then the fleet is down for a while.
        const first = s.cluster.spawn({
          ...shared,
          instance: 'w1',
          keyPrefix: s.keyPrefix,
          seed: 1,
        });
        await s.cluster.ready(BOOT_TIMEOUT_MS, [first]);
        const firstRun = await s.cluster.waitForRecord('start', () => true, {
          timeout: PERIOD_MS + LOAD_MARGIN_MS,
          message: 'a first run',
        });
        await s.cluster.waitForRecord(
          'end',
          (r) => r.instance === 'w1' && r.fencingToken === firstRun.fencingToken,
          { timeout: JOB_MS + LOAD_MARGIN_MS, message: 'the first run to end' },
        );
        first.kill();
        await first.exited;
        const { lastTick } = await store.inspect();
        expect(lastTick, 'the store remembers the last occurrence claimed').not.toBeNull();
        // The outage: three occurrences pass with no worker up.
        await hold(Math.max(0, lastTick! + 3 * PERIOD_MS + 250 - Date.now()));

        // Three workers come back; one of them starts the catch-up, oldest first, and is killed
        // in the middle of it.
        const spawnedAt = monoNow();
        const fleet = ['w2', 'w3', 'w4'].map((instance) =>
          s.cluster.spawn({ ...shared, instance, keyPrefix: s.keyPrefix, seed: s.random.fork() }),
        );
        await s.cluster.ready(BOOT_TIMEOUT_MS, fleet);
        const victimRun = await s.cluster.waitForRecord(
          'start',
          (r) => r.mono > spawnedAt && r.trigger === 'catch-up',
          { timeout: PERIOD_MS + LOAD_MARGIN_MS, message: 'a first catch-up run' },
        );
        const victim = s.cluster.worker(victimRun.instance);
        victim.kill();
        await victim.exited;
        // The kill lands where the victim's catch-up has got to by then: on a loaded machine the
        // other workers boot seconds later, and the victim has run more of the missed occurrences
        // by the time all are ready. It may even have claimed the next one and died before that
        // run's first line, leaving no record. The store says which occurrence the victim held
        // when it died: its lock, renewed every third of the ttl, outlives the kill by far longer
        // than this read takes. That occurrence was claimed, so it is not run again (at most once).
        const atKill = await store.inspect();
        const killedOccurrence = atKill.holder === victim.instance ? atKill.lastTick : null;

        // Every occurrence the fleet missed, the killed one aside, is caught up once by the
        // survivors: after the dead worker's lock expired, at their next tick or the one after.
        // The catch-up starts at boot, before the restarted schedulers' first tick: what they
        // first ticked bounds what the fleet missed.
        await s.cluster.waitForRecord('tick', (r) => r.mono > spawnedAt, {
          timeout: PERIOD_MS + LOAD_MARGIN_MS,
          message: 'a first tick of the restarted fleet',
        });
        const firstTick = firstTickAfter(s.cluster.records(), spawnedAt);
        const missed = occurrencesBetween(lastTick! + 1, firstTick - 1, PERIOD_MS);
        expect(missed[0], 'the catch-up starts with the oldest missed occurrence').toBe(
          victimRun.scheduledAt,
        );
        const toCatchUp = missed.filter((at) => at !== killedOccurrence);
        const caughtUp = (): boolean => {
          const starts = s.cluster.recordsOf('start');
          return toCatchUp.every((at) => starts.some((r) => r.scheduledAt === at));
        };
        const deadline = TTL_MS + 2 * PERIOD_MS + toCatchUp.length * JOB_MS + LOAD_MARGIN_MS;
        // Not a failure by itself: the checks below say which occurrences never ran.
        await waitFor(caughtUp, { timeout: deadline, interval: 50 }).catch(() => undefined);
        // The last catch-up run has ended, so no run is left unchecked.
        await waitFor(
          () => {
            const records = s.cluster.records();
            const ended = new Set(
              s.cluster.recordsOf('end', records).map((r) => `${r.instance}/${r.fencingToken}`),
            );
            return s.cluster
              .recordsOf('start', records)
              .filter((r) => r.instance !== victim.instance)
              .every((r) => ended.has(`${r.instance}/${r.fencingToken}`));
          },
          { timeout: JOB_MS + LOAD_MARGIN_MS, message: 'no run in progress' },
        ).catch(() => undefined);

        const records = s.cluster.records();
        const runs = withTriggers(collectRuns(records, s.cluster.workers), records);
        expectHolds({
          ...alwaysViolations(records, runs),
          'overlapping runs': overlaps(runs),
          'missed occurrences not caught up exactly once after the kill': ranOnceAs(
            runs,
            toCatchUp,
            'catch-up',
          ),
        });
        // At most once: the first catch-up run's occurrence ran once, and the occurrence the victim
        // held when killed never ran elsewhere.
        expect(runs.filter((run) => run.scheduledAt === victimRun.scheduledAt)).toHaveLength(1);
        expect(
          runs.filter(
            (run) => run.scheduledAt === killedOccurrence && run.instance !== victim.instance,
          ),
          'runs, after the kill, of the occurrence the victim held',
        ).toEqual([]);
      },
    );

    it.sequential.each(['SIGKILL', 'SIGTERM'] as const)(
      'queue: after a %s of the holder that queued the next occurrence itself, that occurrence runs within one ttl, on another worker',
      async (signal) => {
        const s = scenarios.begin(`queue-own-${signal}-${backend}`);
        const store = onBackend(s, backend);
        // Ticks far apart, a short ttl renewed while a long run holds it: the next tick cannot
        // stand in for the hand-over of the queued occurrence within the bound checked below.
        const period = 10_000;
        const ttlMs = 2_000;
        const shared = {
          ...store.worker,
          cron: '*/10 * * * * *',
          ttlMs,
          jobMs: 60_000,
          overlap: 'queue' as const,
          // SIGTERM: shutdown gives up on the long run at once; it honours its signal and ends.
          shutdownTimeoutMs: 200,
        };
        // Alone, the holder queues the next occurrence behind its own run.
        const holder = s.cluster.spawn({
          ...shared,
          instance: 'w1',
          keyPrefix: s.keyPrefix,
          seed: 1,
        });
        await s.cluster.ready(BOOT_TIMEOUT_MS, [holder]);
        const held = await s.cluster.waitForRecord('start', () => true, {
          timeout: period + LOAD_MARGIN_MS,
          message: 'a first run',
        });
        await s.cluster.waitForRecord(
          'skipped',
          (r) => r.reason === 'queued' && r.scheduledAt! > held.scheduledAt,
          { timeout: period + LOAD_MARGIN_MS, message: 'the next occurrence queued by the holder' },
        );
        // Two more workers, whose ticks merge into it while the holder runs.
        const spawnedAt = monoNow();
        const others = ['w2', 'w3'].map((instance) =>
          s.cluster.spawn({ ...shared, instance, keyPrefix: s.keyPrefix, seed: s.random.fork() }),
        );
        await s.cluster.ready(BOOT_TIMEOUT_MS, others);
        await s.cluster.waitForRecord(
          'skipped',
          (r) => r.instance !== 'w1' && r.mono > spawnedAt && r.reason === 'merged',
          { timeout: period + LOAD_MARGIN_MS, message: 'a tick of another worker merged' },
        );
        // Just after a tick, the holder goes: killed, or stopped as a deploy stops it.
        const goneAt = monoNow();
        holder.signal(signal);
        await holder.exited;
        // The occurrence the holder had queued when it went. Not always the first one it queued:
        // on a loaded machine a renewal of the 2 s ttl can go unconfirmed in time, the run loses
        // its lock and ends, and the holder runs the queued occurrence and queues the next. The
        // holder was running one occurrence then, with a later one queued behind it.
        const before = s.cluster.records().filter((r) => r.instance === 'w1' && r.mono < goneAt);
        const ended = new Set(s.cluster.recordsOf('end', before).map((r) => r.fencingToken));
        const running = s.cluster.recordsOf('start', before).at(-1);
        expect(running, 'the holder was running a job when it went').toBeDefined();
        expect(ended.has(running!.fencingToken), 'the holder was still running it').toBe(false);
        const queued = s.cluster
          .recordsOf('skipped', before)
          .filter((r) => r.reason === 'queued' && r.scheduledAt! > running!.scheduledAt)
          .at(-1);
        expect(queued, 'the holder had queued an occurrence behind its run').toBeDefined();

        const next = await s.cluster
          .waitForRecord('start', (r) => r.mono > goneAt, {
            timeout: period + ttlMs + LOAD_MARGIN_MS,
            message: 'a run after the holder went',
          })
          .catch(() => null);
        expect(next?.scheduledAt, 'the queued occurrence runs next').toBe(queued!.scheduledAt);
        expect(
          next!.mono - goneAt,
          `the queued occurrence waited at most one ttl (${ttlMs} ms) after the ${signal}`,
        ).toBeLessThanOrEqual(ttlMs + LOAD_MARGIN_MS);
        const records = s.cluster.records();
        const runs = collectRuns(records, s.cluster.workers);
        expectHolds({ ...alwaysViolations(records, runs), 'overlapping runs': overlaps(runs) });
      },
    );
  },
);
