// What the usage guide says `overlap: 'replace'` does to a `renew: false` job, read against a real
// redis-server: the running job is told it is replaced by its next renewal, and such a job sends
// none, so its `ctx.signal` never aborts with a ReplacedError. The replacing occurrence still waits
// for the lock: it runs once the run released it or the lock expired, never beside the run.
import { Injectable } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  LockedCron,
  LockLostError,
  type CronLockEvents,
  type CronLockModuleOptions,
  type LockContext,
} from 'nestjs-cron-lock';
import { afterEach, describe, expect, it } from 'vitest';
import { CronApps } from '../support/cron-apps.js';
import { REPO_ROOT } from '../support/fork-ts.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { recordJobRun, untilAborted, type JobRun } from '../support/run-log.js';

/** Runs of every job of the test in progress. */
const runs: JobRun[] = [];
const skipped: Array<CronLockEvents['skipped']> = [];

/**
 * Lasts 3.2 s of its 4 s lock, longer than its 2 s period, then releases. Renewing, it would be
 * told at the renewal at 2.67 s (every ttl/3), after the next occurrence came due at 2 s.
 */
@Injectable()
class ReleasingJob {
  @LockedCron('*/2 * * * * *', {
    ttl: '4s',
    renew: false,
    name: 'releasing',
    overlap: 'replace',
  })
  async run(ctx: LockContext): Promise<void> {
    await recordJobRun(runs, 'releasing', ctx, () => untilAborted(ctx, 3_200));
  }
}

/** Outlives its 2.5 s lock and stops when told it lost it. */
@Injectable()
class ExpiringJob {
  @LockedCron('*/2 * * * * *', {
    ttl: '2500ms',
    renew: false,
    name: 'expiring',
    overlap: 'replace',
  })
  async run(ctx: LockContext): Promise<void> {
    await recordJobRun(runs, 'expiring', ctx, () => untilAborted(ctx, 10_000));
  }
}

/** The `overlap` row of the `@LockedCron` options table, on one line. */
function overlapRow(): string {
  const usage = readFileSync(join(REPO_ROOT, 'docs/usage.md'), 'utf8');
  const row = usage.split('\n').find((line) => /^\| `overlap`\s+\|/.test(line));
  expect(row, 'the overlap row of docs/usage.md').toBeDefined();
  return row!;
}

describe("overlap: 'replace' under renew: false", () => {
  const apps = new CronApps();

  afterEach(async () => {
    await apps.closeAll();
    runs.length = 0;
    skipped.length = 0;
  });

  async function boot(job: new () => unknown, name: string): Promise<void> {
    const options = { logger: false, redis: testRedisUrl(), keyPrefix: uniquePrefix(name) };
    await apps.boot(options as CronLockModuleOptions, [job], (locks) => {
      locks.on('skipped', (event) => skipped.push(event));
    });
  }

  /** The first run of `job` whose successor came due (and was queued) while it ran, with it. */
  async function replacedPair(job: string): Promise<[JobRun, JobRun]> {
    const pair = await waitFor(
      () => {
        const ofJob = runs.filter((run) => run.job === job);
        for (const holder of ofJob) {
          const successor = ofJob.find(
            (run) => run.scheduledAt > holder.scheduledAt && run.scheduledAt < holder.end,
          );
          if (successor) return [holder, successor] as [JobRun, JobRun];
        }
        return undefined;
      },
      { timeout: 20_000, message: `a run of ${job} and the occurrence that replaced it` },
    );
    // Closed before asserting, so that no run is still in progress.
    await apps.closeAll();
    const queued = skipped.filter((event) => event.reason === 'queued');
    expect(queued.map((event) => event.scheduledAt?.getTime())).toContain(pair[1].scheduledAt);
    return pair;
  }

  it('never aborts the signal of a run that releases, and runs the replacing occurrence after the release', async () => {
    await boot(ReleasingJob, 'replace-release');
    const [holder, successor] = await replacedPair('releasing');
    // Not told: it ran its full 3.2 s though the next occurrence was due after 2 s.
    expect(holder.abortedBy).toBeUndefined();
    expect(holder.end - holder.start).toBeGreaterThanOrEqual(3_200 - 50);
    expect(successor.start).toBeGreaterThanOrEqual(holder.end);
    expect(successor.fencingToken).toBeGreaterThan(holder.fencingToken);
  }, 40_000);

  it('never aborts the signal with a ReplacedError, and runs the replacing occurrence once the lock expired', async () => {
    await boot(ExpiringJob, 'replace-expire');
    const [holder, successor] = await replacedPair('expiring');
    // Told only that the lock ran out, at its ttl: nothing asked it to stop before.
    expect(holder.abortedBy).toBeInstanceOf(LockLostError);
    expect(holder.abortedBy).toMatchObject({ reason: 'expired' });
    expect(holder.end - holder.start).toBeGreaterThanOrEqual(2_500 - 150);
    expect(successor.start).toBeGreaterThanOrEqual(holder.end);
    expect(successor.fencingToken).toBeGreaterThan(holder.fencingToken);
  }, 40_000);

  it('is described so in the usage guide', () => {
    const row = overlapRow();
    // It said the running one's signal aborts with ReplacedError, whatever `renew`.
    expect(row).toMatch(/a `renew: false` run is not told/);
    expect(row).toContain('run once it released or its lock expired');
  });
});
