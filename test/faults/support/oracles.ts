/**
 * The checks every fault scenario applies to what its workers recorded. Each returns a list of
 * violations (empty = the guarantee held), written so that a failure message says what broke:
 *
 *   expect(overlaps(runs), 'runs that overlapped').toEqual([]);
 *
 * All times are on the system-wide monotonic clock (see records.ts), so they compare across
 * processes even when a worker's wall clock is shifted.
 */
import type { FaultWorker } from './cluster.js';
import type { ExpiryReport } from './expiry-sampler.js';
import type { SinkRecord } from './records.js';

/** One run of the job, from its `start` record to its `end` (or the death of its process). */
export interface Run {
  instance: string;
  scheduledAt: number;
  fencingToken: number;
  /** Monotonic ms. */
  start: number;
  /** Monotonic ms: the `end` record, else when its process died, else +Infinity (still going). */
  end: number;
  /** How the run ended. */
  outcome: 'completed' | 'aborted' | 'died' | 'running';
}

/** Joins `start` and `end` records into runs; a run without `end` lasts until its process died. */
export function collectRuns(
  records: readonly SinkRecord[],
  workers: readonly FaultWorker[],
): Run[] {
  const runs = new Map<string, Run>();
  const deathOf = new Map(workers.map((w) => [w.instance, w.exit?.mono ?? null]));
  for (const record of records) {
    if (record.type === 'start') {
      runs.set(`${record.instance}/${record.fencingToken}`, {
        instance: record.instance,
        scheduledAt: record.scheduledAt,
        fencingToken: record.fencingToken,
        start: record.mono,
        end: deathOf.get(record.instance) ?? Number.POSITIVE_INFINITY,
        outcome: deathOf.get(record.instance) ? 'died' : 'running',
      });
    } else if (record.type === 'end') {
      const run = runs.get(`${record.instance}/${record.fencingToken}`);
      if (run) {
        run.end = record.mono;
        run.outcome = record.aborted ? 'aborted' : 'completed';
      }
    }
  }
  return [...runs.values()].sort((a, b) => a.start - b.start);
}

/** `w2 #1795…123 @05:32:44.000Z [12.3 s → 14.1 s]` */
export function describeRun(run: Run, origin = 0): string {
  const at = (ms: number): string =>
    Number.isFinite(ms) ? `${((ms - origin) / 1000).toFixed(3)} s` : '…';
  return (
    `${run.instance} fence ${run.fencingToken} occurrence ${new Date(run.scheduledAt).toISOString()} ` +
    `[${at(run.start)} → ${at(run.end)}, ${run.outcome}]`
  );
}

/** "Never double-run": no two runs of the job overlap in time. */
export function overlaps(runs: readonly Run[]): string[] {
  const violations: string[] = [];
  const sorted = [...runs].sort((a, b) => a.start - b.start);
  const origin = sorted[0]?.start ?? 0;
  let longest: Run | undefined;
  for (const run of sorted) {
    if (longest && run.start < longest.end) {
      violations.push(
        `${describeRun(run, origin)} started while ${describeRun(longest, origin)} ran`,
      );
    }
    if (!longest || run.end > longest.end) longest = run;
  }
  return violations;
}

/** "Once per occurrence": no scheduled occurrence runs twice (anywhere, ever). */
export function duplicateOccurrences(runs: readonly Run[]): string[] {
  const byOccurrence = new Map<number, Run[]>();
  for (const run of runs) {
    byOccurrence.set(run.scheduledAt, [...(byOccurrence.get(run.scheduledAt) ?? []), run]);
  }
  return [...byOccurrence.entries()]
    .filter(([, group]) => group.length > 1)
    .map(
      ([at, group]) =>
        `occurrence ${new Date(at).toISOString()} ran ${group.length} times: ` +
        group.map((run) => describeRun(run)).join('; '),
    );
}

/** "Fencing": tokens strictly increase in the order runs started. */
export function fencingOrder(runs: readonly Run[]): string[] {
  const violations: string[] = [];
  const sorted = [...runs].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    if (!(sorted[i].fencingToken > sorted[i - 1].fencingToken)) {
      violations.push(
        `${describeRun(sorted[i])} started after ${describeRun(sorted[i - 1])} with a token that is not higher`,
      );
    }
  }
  return violations;
}

/** "Never an unhandled rejection": no worker recorded an unhandled rejection or uncaught exception. */
export function crashes(records: readonly SinkRecord[]): string[] {
  return records
    .filter((r) => r.type === 'unhandled-rejection' || r.type === 'uncaught-exception')
    .map((r) => `${r.instance}: ${r.type}: ${'message' in r ? r.message : ''}`);
}

/**
 * "No lock key ever exists without an expiry": the sampler never saw PTTL -1, and it did see
 * the lock held at least `minPassesWithLock` times (so the check was not vacuous).
 */
export function expiryViolations(report: ExpiryReport, minPassesWithLock = 3): string[] {
  const violations = report.violations.map((v) => `${v.key} had no expiry (PTTL -1)`);
  if (report.passesWithLock < minPassesWithLock) {
    violations.push(
      `the sampler saw a held lock in only ${report.passesWithLock} of ${report.passes} passes ` +
        `(expected at least ${minPassesWithLock}): the expiry check would be vacuous`,
    );
  }
  return violations;
}

/** The first run that started at or after `after` (monotonic ms). */
export function firstRunAfter(runs: readonly Run[], after: number): Run | undefined {
  return [...runs].sort((a, b) => a.start - b.start).find((run) => run.start >= after);
}

/**
 * "Liveness": some run starts within `boundMs` of `after` (e.g. the end of a fault). Returns a
 * violation when none did.
 */
export function liveness(
  runs: readonly Run[],
  after: number,
  boundMs: number,
  what: string,
): string[] {
  const next = firstRunAfter(runs, after);
  if (!next) return [`no run started after ${what}`];
  const waited = next.start - after;
  return waited <= boundMs
    ? []
    : [`the first run after ${what} started ${Math.round(waited)} ms later (bound ${boundMs} ms)`];
}

/** Each expected occurrence ran exactly once (none missed, none doubled). */
export function exactlyOnce(runs: readonly Run[], occurrences: readonly number[]): string[] {
  return occurrences.flatMap((at) => {
    const count = runs.filter((run) => run.scheduledAt === at).length;
    return count === 1
      ? []
      : [`occurrence ${new Date(at).toISOString()} ran ${count} times (expected 1)`];
  });
}

/** Occurrences of an every-`periodMs` schedule (aligned to the epoch) within [from, to] wall ms. */
export function occurrencesBetween(fromWall: number, toWall: number, periodMs: number): number[] {
  // A bound read from records that are not there (Math.min() of nothing is Infinity) would
  // list without end, until V8 aborts the test process: fail the scenario instead.
  if (!Number.isFinite(fromWall) || !Number.isFinite(toWall) || !(periodMs > 0)) {
    throw new RangeError(
      `occurrencesBetween(${fromWall}, ${toWall}, ${periodMs}): not a time range`,
    );
  }
  const occurrences: number[] = [];
  for (let at = Math.ceil(fromWall / periodMs) * periodMs; at <= toWall; at += periodMs) {
    occurrences.push(at);
  }
  return occurrences;
}

/** The checks that hold under every fault: the "always" tier. */
export function alwaysViolations(
  records: readonly SinkRecord[],
  runs: readonly Run[],
): Record<string, string[]> {
  return {
    'unhandled rejections / uncaught exceptions': crashes(records),
    'occurrences that ran twice': duplicateOccurrences(runs),
    'fencing tokens out of order': fencingOrder(runs),
  };
}

/**
 * "May overlap, but detected and fenceable": whenever a run started while an earlier one was
 * still going, the earlier one was told it lost its lock (a `lost` event) and the later one
 * holds a higher fencing token, so a fenced store rejects the stale holder.
 */
export function undetectedOverlaps(runs: readonly Run[], records: readonly SinkRecord[]): string[] {
  const told = new Set(
    records
      .filter((r) => r.type === 'lost')
      .map((r) => `${r.instance}/${'fencingToken' in r ? r.fencingToken : ''}`),
  );
  const sorted = [...runs].sort((a, b) => a.start - b.start);
  const origin = sorted[0]?.start ?? 0;
  const violations: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j].start < sorted[i].end; j++) {
      const [earlier, later] = [sorted[i], sorted[j]];
      if (!told.has(`${earlier.instance}/${earlier.fencingToken}`)) {
        violations.push(
          `${describeRun(later, origin)} overlapped ${describeRun(earlier, origin)}, which was never told it lost the lock`,
        );
      }
      if (!(later.fencingToken > earlier.fencingToken)) {
        violations.push(
          `${describeRun(later, origin)} overlapped ${describeRun(earlier, origin)} without a higher token`,
        );
      }
    }
  }
  return violations;
}
