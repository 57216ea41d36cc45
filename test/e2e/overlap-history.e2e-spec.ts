// What the run history records under the overlap policies: every merged occurrence of a 'queue'
// job once, and a run replaced under 'replace' as 'aborted'. Three Nest apps in one process share
// one real redis-server.
import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  LockedCron,
  ReplacedError,
  type CronLockEvents,
  type CronLockModuleOptions,
  type CronLockService,
  type HistoryEntry,
  type LockContext,
} from 'nestjs-cron-lock';
import { afterEach, describe, expect, it } from 'vitest';
import { CronApps } from '../support/cron-apps.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { recordJobRun, untilAborted, type JobRun } from '../support/run-log.js';

/** Runs of every job of the test in progress, from every app. */
const runs: JobRun[] = [];
const skipped: Array<CronLockEvents['skipped']> = [];

/** Takes 2.5 periods of its per-second schedule: later occurrences queue, then merge. */
@Injectable()
class QueueJob {
  @LockedCron('* * * * * *', { ttl: '5s', name: 'queue', overlap: 'queue' })
  async run(ctx: LockContext): Promise<void> {
    await recordJobRun(runs, 'queue', ctx, () => sleep(2_500));
  }
}

/** Runs until told to stop (at most 3 s); renews every 500 ms. */
@Injectable()
class ReplaceJob {
  @LockedCron('*/2 * * * * *', { ttl: '1500ms', name: 'replace', overlap: 'replace' })
  async run(ctx: LockContext): Promise<void> {
    await recordJobRun(runs, 'replace', ctx, () => untilAborted(ctx, 3_000));
  }
}

const runsOf = (job: string): JobRun[] => runs.filter((run) => run.job === job);

describe('run history under the overlap policies, three apps sharing one redis-server', () => {
  const apps = new CronApps();

  afterEach(async () => {
    await apps.closeAll();
    runs.length = 0;
    skipped.length = 0;
  });

  async function boot(
    instanceId: string,
    providers: Array<new () => unknown>,
    keyPrefix: string,
  ): Promise<CronLockService> {
    const options = { instanceId, logger: false, redis: testRedisUrl(), keyPrefix };
    return apps.boot(options as CronLockModuleOptions, providers, (locks) => {
      locks.on('skipped', (event) => skipped.push(event));
    });
  }

  /** Runs `job` on three apps until `enough`, stops them, and reads the history from a fourth. */
  async function historyAfter(
    job: new () => unknown,
    name: string,
    enough: () => boolean,
  ): Promise<HistoryEntry<Date>[]> {
    const keyPrefix = uniquePrefix(name);
    await Promise.all(['app-1', 'app-2', 'app-3'].map((id) => boot(id, [job], keyPrefix)));
    await waitFor(enough, { timeout: 30_000, message: `enough runs of ${name}` });
    await apps.closeAll();
    const reader = await boot('reader', [], keyPrefix);
    return reader.history(name, { limit: 100 });
  }

  it("records each occurrence merged under 'queue' once, beside the runs", async () => {
    const entries = await historyAfter(
      QueueJob,
      'queue',
      () =>
        new Set(
          skipped
            .filter((event) => event.reason === 'merged')
            .map((event) => event.scheduledAt?.getTime()),
        ).size >= 2,
    );
    const merged = entries.filter((entry) => entry.kind === 'merged');
    const mergedAt = merged.map((entry) => entry.scheduledAt?.getTime());
    // Once per occurrence, whichever app and however many apps were told 'merged'.
    expect(new Set(mergedAt).size).toBe(mergedAt.length);
    const told = new Set(
      skipped
        .filter((event) => event.reason === 'merged')
        .map((event) => event.scheduledAt?.getTime()),
    );
    expect(told.size).toBeGreaterThanOrEqual(2);
    expect(new Set(mergedAt)).toEqual(told);
    for (const entry of merged) {
      expect(['app-1', 'app-2', 'app-3']).toContain(entry.instanceId);
      expect(entry.finishedAt).toBeInstanceOf(Date);
      expect(entry.outcome).toBeNull();
    }
    // A merged occurrence never ran; every run is recorded once, completed.
    const ranAt = runsOf('queue').map((run) => run.scheduledAt);
    for (const at of mergedAt) expect(ranAt).not.toContain(at);
    const runEntries = entries.filter((entry) => entry.kind === 'run');
    const byTime = (a: number, b: number): number => a - b;
    expect(runEntries.map((entry) => entry.scheduledAt?.getTime() ?? 0).sort(byTime)).toEqual(
      [...ranAt].sort(byTime),
    );
    expect(runEntries.every((entry) => entry.outcome === 'completed')).toBe(true);
  }, 90_000);

  it("records a run replaced under 'replace' as aborted", async () => {
    const entries = await historyAfter(
      ReplaceJob,
      'replace',
      () => runsOf('replace').filter((run) => run.abortedBy instanceof ReplacedError).length >= 2,
    );
    const replaced = runsOf('replace').filter((run) => run.abortedBy instanceof ReplacedError);
    const runEntries = entries.filter((entry) => entry.kind === 'run');
    for (const run of replaced) {
      const entry = runEntries.find((e) => e.scheduledAt?.getTime() === run.scheduledAt);
      expect(entry?.outcome, new Date(run.scheduledAt).toISOString()).toBe('aborted');
    }
    // A run nobody asked to stop is recorded as it ended.
    for (const run of runsOf('replace').filter((r) => r.abortedBy === undefined)) {
      const entry = runEntries.find((e) => e.scheduledAt?.getTime() === run.scheduledAt);
      expect(entry?.outcome ?? 'completed').toBe('completed');
    }
  }, 90_000);
});
