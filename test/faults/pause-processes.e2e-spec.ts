// `nestjs-cron-lock pause` and `resume` across processes: three forked workers run a job every
// second; the CLI (a fourth process) pauses it, and from then on at most the occurrence in
// flight still starts, no run starts on any worker while paused, and each skipped occurrence is
// logged once fleet-wide; the CLI resumes it, and runs start again on some worker. On Redis and on
// PostgreSQL. The oracles read the workers' records and the CLI's answers, never timings.
import { describe, expect, it } from 'vitest';
import type { Backend } from './support/backends.js';
import { cliFleets } from './support/cli-backend.js';
import { monoNow } from './support/records.js';

/** Occurrences to see skipped while paused before resuming. */
const PAUSED_OCCURRENCES = 4;
/** Worker boots take long on a loaded machine; the deadlines only bound a failing wait. */
const WAIT = { timeout: 90_000 };

describe('pause and resume across processes', { timeout: 300_000 }, () => {
  const fleets = cliFleets('pause-processes');

  async function provePauseAndResume(kind: Backend): Promise<void> {
    const { fleet, spawn, cli } = fleets.begin(kind);
    for (const instance of ['w1', 'w2', 'w3']) spawn(instance);
    await fleet.ready(120_000);
    // The job runs (and is known to the store, which the CLI checks) before it is paused.
    await fleet.waitForRecord('start', () => true, { ...WAIT, message: 'a first run' });

    const paused = await cli('pause', '--yes');
    expect(paused.stderr).toBe('');
    expect(paused.code).toBe(0);
    const pausedAt = monoNow();
    const pausedWall = Date.now();

    await fleet.waitForRecord(
      'skipped',
      () =>
        fleet.recordsOf('skipped').filter((r) => r.reason === 'paused').length >=
        PAUSED_OCCURRENCES,
      { ...WAIT, message: `${PAUSED_OCCURRENCES} occurrences skipped while paused` },
    );
    // Taken before the CLI starts: the resume takes effect before the CLI process exits, which on
    // a loaded machine can be seconds later, and a run may start in between.
    const resumeSentAt = monoNow();
    const resumed = await cli('resume', '--yes');
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const resumedAt = monoNow();
    const firstAfterResume = await fleet.waitForRecord('start', (r) => r.mono > resumedAt, {
      ...WAIT,
      message: 'a run after resume',
    });

    const records = fleet.records();
    const starts = fleet.recordsOf('start', records);
    const pausedRuns = fleet
      .recordsOf('skipped', records)
      .filter((r) => r.reason === 'paused')
      .map((r) => r.scheduledAt);
    const failure = fleet.describe();

    // Each occurrence skipped while paused is logged once fleet-wide (the other instances find it
    // claimed), and none of them ran anywhere.
    expect(pausedRuns, failure).not.toContain(null);
    const pausedOccurrences = pausedRuns as number[];
    expect(new Set(pausedOccurrences).size, failure).toBe(pausedOccurrences.length);
    const firstPaused = Math.min(...pausedOccurrences);
    const lastPaused = Math.max(...pausedOccurrences);
    for (const start of starts) {
      expect(pausedOccurrences, failure).not.toContain(start.scheduledAt);
    }
    // Once the CLI returned, only occurrences already in flight still started: due before it
    // returned and scheduled before the first one skipped; no later one ran before the resume
    // was sent.
    // (Which ones were in flight is not counted: a worker stalled by a loaded machine can start
    // the occurrence it claimed before the pause well after the CLI returned.)
    const afterPause = starts.filter((r) => r.mono > pausedAt && r.mono < resumeSentAt);
    for (const start of afterPause) {
      expect(start.scheduledAt, failure).toBeLessThan(firstPaused);
      expect(start.scheduledAt, failure).toBeLessThanOrEqual(pausedWall);
    }
    // The resume restarted the job: a later occurrence ran, on some worker, as a scheduled run.
    expect(firstAfterResume.scheduledAt, failure).toBeGreaterThan(lastPaused);
    expect(firstAfterResume.trigger).toBe('schedule');
    // Exclusion held throughout: every occurrence ran at most once fleet-wide.
    const ran = starts.map((r) => r.scheduledAt);
    expect(new Set(ran).size, failure).toBe(ran.length);
    expect(fleet.recordsOf('uncaught-exception', records)).toEqual([]);
    expect(fleet.recordsOf('unhandled-rejection', records)).toEqual([]);
  }

  it('on Redis: the CLI pauses a job of three workers within one occurrence, then resumes it', async () => {
    await provePauseAndResume('redis');
  });

  it('on PostgreSQL: the CLI pauses a job of three workers within one occurrence, then resumes it', async () => {
    await provePauseAndResume('postgres');
  });
});
