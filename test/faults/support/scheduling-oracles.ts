/**
 * Checks for the catch-up and overlap scenarios, on top of those in oracles.ts. Each returns a
 * list of violations (empty = the promise held). Occurrences are wall-clock ms (what
 * `ctx.scheduledAt` says); run times are monotonic ms.
 */
import { describeRun, type Run } from './oracles.js';
import type { SinkRecord } from './records.js';

/** A run together with what started it (`ctx.trigger`, from its `start` record). */
export interface TriggeredRun extends Run {
  trigger: string;
}

/** Adds each run's trigger, read from its `start` record. */
export function withTriggers(runs: readonly Run[], records: readonly SinkRecord[]): TriggeredRun[] {
  const triggers = new Map<string, string>();
  for (const record of records) {
    if (record.type === 'start') {
      triggers.set(`${record.instance}/${record.fencingToken}`, record.trigger);
    }
  }
  return runs.map((run) => ({
    ...run,
    trigger: triggers.get(`${run.instance}/${run.fencingToken}`) ?? '?',
  }));
}

const iso = (at: number): string => new Date(at).toISOString();

/**
 * The first occurrence that the schedulers of the workers started after `spawnedAt` fired: the
 * earliest of their `tick` records and of the runs their job's scheduler started (`trigger:
 * 'schedule'`). Both count because the job's cron and the recorder's are not set going at the
 * same instant: a worker that booted across an occurrence was seen to run it as scheduled while
 * its unlocked tick recorder recorded nothing for it. Throws when there is neither (a scenario
 * that asks too early).
 */
export function firstTickAfter(records: readonly SinkRecord[], spawnedAt: number): number {
  let first = Number.POSITIVE_INFINITY;
  for (const r of records) {
    if (
      r.mono > spawnedAt &&
      (r.type === 'tick' || (r.type === 'start' && r.trigger === 'schedule')) &&
      r.scheduledAt < first
    ) {
      first = r.scheduledAt;
    }
  }
  if (first === Number.POSITIVE_INFINITY) {
    throw new Error(`no tick, and no scheduled run, of a worker started after mono ${spawnedAt}`);
  }
  return first;
}

/** Every occurrence in `occurrences` ran exactly once, started by `trigger`. */
export function ranOnceAs(
  runs: readonly TriggeredRun[],
  occurrences: readonly number[],
  trigger: string,
): string[] {
  return occurrences.flatMap((at) => {
    const of = runs.filter((run) => run.scheduledAt === at);
    if (of.length !== 1) return [`occurrence ${iso(at)} ran ${of.length} times (expected 1)`];
    return of[0].trigger === trigger
      ? []
      : [`occurrence ${iso(at)} ran with trigger '${of[0].trigger}' (expected '${trigger}')`];
  });
}

/** None of `occurrences` ran. */
export function neverRan(runs: readonly Run[], occurrences: readonly number[]): string[] {
  return occurrences.flatMap((at) => {
    const of = runs.filter((run) => run.scheduledAt === at);
    return of.length === 0
      ? []
      : [
          `occurrence ${iso(at)} ran (${of.map((run) => describeRun(run)).join('; ')}), expected not`,
        ];
  });
}

/** Runs started in the order of their occurrences: oldest first. */
export function inOccurrenceOrder(runs: readonly Run[]): string[] {
  const sorted = [...runs].sort((a, b) => a.start - b.start);
  const violations: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    if (!(sorted[i].scheduledAt > sorted[i - 1].scheduledAt)) {
      violations.push(
        `${describeRun(sorted[i])} started after ${describeRun(sorted[i - 1])}, an occurrence that is not older`,
      );
    }
  }
  return violations;
}

/** How many `missed` events, across every worker, named each occurrence. */
export function missedReports(records: readonly SinkRecord[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const record of records) {
    if (record.type === 'missed' && record.scheduledAt !== null) {
      counts.set(record.scheduledAt, (counts.get(record.scheduledAt) ?? 0) + 1);
    }
  }
  return counts;
}

/** Each of `occurrences` was reported missed exactly once, fleet-wide. */
export function reportedMissedOnce(
  records: readonly SinkRecord[],
  occurrences: readonly number[],
): string[] {
  const counts = missedReports(records);
  return occurrences.flatMap((at) => {
    const count = counts.get(at) ?? 0;
    return count === 1
      ? []
      : [`occurrence ${iso(at)} was reported missed ${count} times (expected once, fleet-wide)`];
  });
}

/**
 * Under `overlap: 'queue'`: each of `occurrences` either ran exactly once, or did not run and
 * some worker recorded it as skipped with reason `merged`.
 */
export function ranOnceOrMerged(
  runs: readonly Run[],
  records: readonly SinkRecord[],
  occurrences: readonly number[],
): string[] {
  const merged = new Set(
    records
      .filter((r) => r.type === 'skipped' && r.reason === 'merged')
      .map((r) => ('scheduledAt' in r ? r.scheduledAt : null)),
  );
  return occurrences.flatMap((at) => {
    const count = runs.filter((run) => run.scheduledAt === at).length;
    if (count === 1) return [];
    if (count === 0) {
      return merged.has(at) ? [] : [`occurrence ${iso(at)} neither ran nor was recorded as merged`];
    }
    return [`occurrence ${iso(at)} ran ${count} times`];
  });
}
