import { CronLockConfigError } from '../cron-lock.errors.js';
import type { CronLockAlert } from './events.js';
import {
  ALERT_LOST,
  ALERT_MISSED_SUCCESS,
  ALERT_STORE_FAILURES,
  INVALID_MODULE_OPTION,
} from '../cron-lock.messages.js';
import type { CronLockAlertOptions } from '../options/module-options.interface.js';
import type { AcquireResult, LossReason } from '../stores/lock-store.interface.js';
import { PerName } from '../utils/recent-names.js';
import { rejectEmptyOptions } from '../utils/empty-options.js';
import { LAST_DATE_MS } from '../utils/occurrence.js';
import { STORE_LAST_SUCCESS_INVALID } from './observer.messages.js';

/** Default of `alerts.missedPeriods`. */
export const DEFAULT_MISSED_PERIODS = 3;
/** Default of `alerts.storeFailures`. */
export const DEFAULT_STORE_FAILURES = 3;

/** The `alerts` option after validation; `null` when alerting is off. */
export interface ResolvedAlertOptions {
  missedPeriods: number;
  storeFailures: number;
}

/** What the monitor needs to know about a job. */
export interface AlertedJob {
  name: string;
  /** Typical time between two occurrences (ms); absent for jobs without a schedule. */
  periodMs?: number;
  /** The cron's occurrences strictly between two instants; absent for an `@Interval` job. */
  missedBetween?: (after: number, before: number) => { occurrences: number[]; more: number };
}

/**
 * Checks the `alerts` module option: `false`, or an object whose thresholds are whole numbers
 * of at least 1. Throws {@link CronLockConfigError} naming the field and the fix.
 */
export function resolveAlertOptions(raw: unknown): ResolvedAlertOptions | null {
  if (raw === false) {
    return null;
  }
  if (raw === undefined) {
    return { missedPeriods: DEFAULT_MISSED_PERIODS, storeFailures: DEFAULT_STORE_FAILURES };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION('alerts', '{ missedPeriods?, storeFailures? } or false', raw),
    );
  }
  const known = ['missedPeriods', 'storeFailures'];
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      throw new CronLockConfigError(
        INVALID_MODULE_OPTION(`alerts.${key}`, `one of ${known.join(', ')} (unknown option)`, key),
      );
    }
  }
  const options = raw as CronLockAlertOptions;
  rejectEmptyOptions('CronLockModule', options, ALERT_DEFAULTS, 'alerts.');
  return {
    missedPeriods: threshold('alerts.missedPeriods', options.missedPeriods, DEFAULT_MISSED_PERIODS),
    storeFailures: threshold('alerts.storeFailures', options.storeFailures, DEFAULT_STORE_FAILURES),
  };
}

const ALERT_DEFAULTS = {
  missedPeriods: `the default ${DEFAULT_MISSED_PERIODS}`,
  storeFailures: `the default ${DEFAULT_STORE_FAILURES}`,
};

function threshold(option: string, value: unknown, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new CronLockConfigError(INVALID_MODULE_OPTION(option, 'a whole number ≥ 1', value));
  }
  return value;
}

/** What one instance remembers about one job, to alert once per episode. */
interface JobWatch {
  /** The first occurrence this instance saw, standing in for a success when none is known. */
  firstSeenAt: number | null;
  /** The last success this instance completed itself (ms since epoch). */
  localSuccessAt: number | null;
  /** The success (or first-seen time) the last `missed-success` alert counted from. */
  missedAlertedFor: number | null;
  /** Acquisitions in a row that failed with a store error. */
  storeFailures: number;
  /** Whether the current run of store failures was alerted. */
  storeFailuresAlerted: boolean;
  /** The last occurrence seen while the job was paused: occurrences before it are not missed. */
  pausedThrough: number | null;
  /**
   * A cron job's count, kept from one tick to the next so that a tick in order costs no step of
   * the cron: `counted` occurrences after `countedSince`, up to and with `countedThrough`.
   */
  countedSince: number | null;
  countedThrough: number | null;
  counted: number;
  /** The store's last answer had a `lastSuccessAt` that is no time, and that was logged. */
  badSuccessLogged: boolean;
}

/**
 * Decides when to raise an alert, from what the runner already learns on every tick (no
 * extra store command): the last success time that comes back with every acquire answer, store
 * errors of acquisitions, and lost locks.
 *
 * Each condition alerts once per episode per job on this instance: `missed-success` again only
 * after a newer success was seen, `store-failures` again only after the store answered, `lost`
 * once per run that lost its lock. Each instance that observes a condition alerts (there is no
 * fleet-wide dedupe): with N instances, a missed success is reported up to N times.
 */
export class AlertMonitor {
  /** Bounded for names without a schedule: an app that locks per entity uses ever-new ones. */
  private readonly jobs = new PerName<JobWatch>();

  constructor(
    private readonly options: ResolvedAlertOptions | null,
    private readonly raise: (alert: CronLockAlert) => void,
    private readonly instanceId: string,
    private readonly warn: (message: string) => void,
  ) {}

  /**
   * The store answered an acquisition for occurrence `scheduledAt` (any answer: acquired,
   * held or tick-done). Ends a run of store failures and checks for a missed success.
   */
  answered(job: AlertedJob, scheduledAt: number | undefined, result: AcquireResult): void {
    if (!this.options) {
      return;
    }
    // Without a period there is no "N periods"; without the store's history, another
    // instance's success would be invisible and this instance would alert wrongly.
    if (!hasPeriod(job) || scheduledAt === undefined) {
      // Only a failure count to end: a name that never failed needs nothing kept.
      const watch = this.jobs.get(job.name);
      if (watch) {
        watch.storeFailures = 0;
        watch.storeFailuresAlerted = false;
      }
      return;
    }
    const watch = this.watchOf(job);
    watch.storeFailures = 0;
    watch.storeFailuresAlerted = false;
    if (!this.isSuccessTime(job.name, watch, result.lastSuccessAt)) {
      return;
    }
    // A paused job misses its occurrences on purpose: quiet while paused, and counted again
    // from the last paused occurrence once resumed.
    if ((!result.acquired && result.reason === 'paused') || result.paused === true) {
      watch.pausedThrough = maxOf(watch.pausedThrough, scheduledAt);
      return;
    }
    const period = job.periodMs;
    watch.firstSeenAt ??= scheduledAt;
    const lastSuccessAt = maxOf(result.lastSuccessAt, watch.localSuccessAt);
    // Never succeeded (as far as anyone knows): count as if a run had succeeded just before
    // the first occurrence this instance saw, so both cases alert after N occurrences.
    const before = job.missedBetween ? 1 : period;
    const since = maxOf(lastSuccessAt ?? watch.firstSeenAt - before, watch.pausedThrough)!;
    const missed =
      (job.missedBetween &&
        missedOccurrences(watch, job.missedBetween, since, scheduledAt, since === lastSuccessAt)) ??
      // An interval's occurrences are evenly spaced: rounding absorbs the run's duration and a
      // clock skew below half a period between the instance that succeeded and this one.
      Math.round((scheduledAt - since) / period) - 1;
    if (missed < this.options.missedPeriods || watch.missedAlertedFor === since) {
      return;
    }
    watch.missedAlertedFor = since;
    this.raise({
      kind: 'missed-success',
      name: job.name,
      scheduledAt: new Date(scheduledAt),
      instanceId: this.instanceId,
      message: ALERT_MISSED_SUCCESS(job.name, missed, period, lastSuccessAt),
      lastSuccessAt: lastSuccessAt === null ? null : new Date(lastSuccessAt),
      periodMs: period,
      missedPeriods: missed,
      threshold: this.options.missedPeriods,
    });
  }

  /** An acquisition failed with a store error (`error` is redacted). */
  acquireFailed(job: AlertedJob, scheduledAt: Date | null, error: string): void {
    if (!this.options) {
      return;
    }
    const watch = this.watchOf(job);
    watch.storeFailures += 1;
    if (watch.storeFailures < this.options.storeFailures || watch.storeFailuresAlerted) {
      return;
    }
    watch.storeFailuresAlerted = true;
    this.raise({
      kind: 'store-failures',
      name: job.name,
      scheduledAt,
      instanceId: this.instanceId,
      message: ALERT_STORE_FAILURES(job.name, watch.storeFailures, error),
      consecutiveFailures: watch.storeFailures,
      threshold: this.options.storeFailures,
      error,
    });
  }

  /** This instance completed a run of `job` at `finishedAt` (ms since epoch). */
  succeeded(job: AlertedJob, finishedAt: number): void {
    if (!this.options) {
      return;
    }
    // Read only by the missed-success check, which needs a period.
    if (!hasPeriod(job)) {
      return;
    }
    const watch = this.watchOf(job);
    watch.localSuccessAt = maxOf(watch.localSuccessAt, finishedAt);
  }

  /** A run of `job` lost its lock. */
  lost(job: AlertedJob, scheduledAt: Date | null, fencingToken: number, reason: LossReason): void {
    if (!this.options) {
      return;
    }
    this.raise({
      kind: 'lost',
      name: job.name,
      scheduledAt,
      instanceId: this.instanceId,
      message: ALERT_LOST(job.name, reason, fencingToken),
      fencingToken,
      reason,
    });
  }

  /**
   * Whether `lastSuccessAt` is a time or `null` (`undefined`: the store does not say). A custom
   * store's NaN, negative number or one no `Date` holds made the alert's text throw out of the run
   * (its lock left held): store trouble, logged once until a valid answer, and ignored.
   */
  private isSuccessTime(name: string, watch: JobWatch, at: unknown): boolean {
    const valid = at === null || (typeof at === 'number' && at >= 0 && at <= LAST_DATE_MS);
    const bad = !valid && at !== undefined;
    if (bad && !watch.badSuccessLogged) {
      this.warn(STORE_LAST_SUCCESS_INVALID(name, at));
    }
    watch.badSuccessLogged = bad;
    return valid;
  }

  private watchOf(job: AlertedJob): JobWatch {
    return this.jobs.use(job.name, hasPeriod(job), newWatch);
  }
}

/** A job with a schedule: the only kind whose occurrences can be counted as missed. */
export function hasPeriod(job: AlertedJob): job is AlertedJob & { periodMs: number } {
  return job.periodMs !== undefined && job.periodMs > 0;
}

function newWatch(): JobWatch {
  return {
    firstSeenAt: null,
    localSuccessAt: null,
    missedAlertedFor: null,
    storeFailures: 0,
    storeFailuresAlerted: false,
    pausedThrough: null,
    countedSince: null,
    countedThrough: null,
    counted: 0,
    badSuccessLogged: false,
  };
}

type Between = NonNullable<AlertedJob['missedBetween']>;

/**
 * The cron's occurrences strictly between `since` and `scheduledAt`: the schedule's own, so a
 * weekday job's weekend is not missed, whatever the gap seen at startup. `fromSuccess`: `since`
 * is a success's end, and an occurrence less than half its own gap after it is the one that
 * success ran (a clock ahead of the store's is recorded at the store's time). `null` when the
 * cron cannot say.
 */
function missedOccurrences(
  watch: JobWatch,
  between: Between,
  since: number,
  scheduledAt: number,
  fromSuccess: boolean,
): number | null {
  // A success at or after the tick (another instance ran it already): nothing missed, and
  // nothing kept, since a count is only extended from a tick after its `since`.
  if (since >= scheduledAt) {
    return -1;
  }
  try {
    watch.counted = countThrough(watch, between, since, scheduledAt, fromSuccess);
  } catch {
    return null;
  }
  watch.countedSince = since;
  watch.countedThrough = scheduledAt;
  return watch.counted - 1;
}

/** Occurrences after `since` up to and with `scheduledAt`, from the last count when it can. */
function countThrough(
  watch: JobWatch,
  between: Between,
  since: number,
  scheduledAt: number,
  fromSuccess: boolean,
): number {
  const through = watch.countedThrough;
  if (through !== null && scheduledAt >= through) {
    // No step of the cron when the ticks came in order (see missedBetweenOf).
    const added = scheduledAt === through ? 0 : sizeOf(between(through, scheduledAt)) + 1;
    if (watch.countedSince === since) {
      return watch.counted + added;
    }
    if (since >= through && added <= 1) {
      return added;
    }
  }
  const { occurrences, more } = between(since, scheduledAt);
  const first = occurrences[0];
  const ranBySuccess =
    fromSuccess &&
    first !== undefined &&
    first - since < ((occurrences[1] ?? scheduledAt) - first) / 2;
  return occurrences.length + more + (ranBySuccess ? 0 : 1);
}

function sizeOf({ occurrences, more }: { occurrences: number[]; more: number }): number {
  return occurrences.length + more;
}

function maxOf(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined) {
    return b ?? null;
  }
  return b === null || b === undefined ? a : Math.max(a, b);
}
