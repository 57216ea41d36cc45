import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { SKIP_REASONS, type CronLockEvents } from '../observer/events.js';
import type { ResolvedCronLockPrometheusOptions } from './cron-lock-prometheus.options.js';
import type { LossReason } from '../stores/lock-store.interface.js';

/** How a run ended: the `outcome` label. */
export type RunOutcomeLabel = 'completed' | 'failed';
/** Why a lock was lost: the `reason` label of the lost-locks counter. */
export type LossReasonLabel = LossReason;
/** Which store operation failed: the `operation` label. */
export type StoreOperationLabel = CronLockEvents['store-error']['operation'];
/** What an alert is about: the `kind` label. */
export type AlertKindLabel = CronLockEvents['alert']['kind'];

// Records rather than arrays: adding a reason to the event types without adding it here is a
// type error, so the zero-initialised series can never miss one.
const OUTCOMES: Record<RunOutcomeLabel, true> = { completed: true, failed: true };
const LOSS_REASONS: Record<LossReasonLabel, true> = {
  expired: true,
  taken: true,
  unconfirmed: true,
};
const STORE_OPERATIONS: Record<StoreOperationLabel, true> = {
  acquire: true,
  renew: true,
  release: true,
};
const ALERT_KINDS: Record<AlertKindLabel, true> = {
  'missed-success': true,
  'store-failures': true,
  lost: true,
};

/**
 * The metrics of the lock, as registered in the registry. Labels: `job` (the lock name) plus
 * `outcome`, `reason` or `operation`; never a token or an instance id.
 *
 * @publicApi
 */
export interface CronLockMetricSet {
  /** `<prefix>runs_total{job, outcome}`: runs that ended, by `completed` / `failed`. */
  runs: Counter<'job' | 'outcome'>;
  /** `<prefix>skips_total{job, reason}`: runs that did not happen on this instance. */
  skips: Counter<'job' | 'reason'>;
  /** `<prefix>locks_lost_total{job, reason}`: locks lost while their job ran. */
  locksLost: Counter<'job' | 'reason'>;
  /** `<prefix>store_errors_total{job, operation}`: failed `acquire` / `renew` / `release` calls. */
  storeErrors: Counter<'job' | 'operation'>;
  /** `<prefix>alerts_total{job, kind}`: `alert` events (`missed-success`, `store-failures`, `lost`). */
  alerts: Counter<'job' | 'kind'>;
  /**
   * `<prefix>missed_occurrences_total{job}`: occurrences that ran nowhere in the fleet, counted by
   * the one instance that reported them (sum over instances for the fleet's count).
   */
  missed: Counter<'job'>;
  /** `<prefix>run_duration_seconds{job, outcome}`: how long runs took. */
  runDuration: Histogram<'job' | 'outcome'>;
  /** `<prefix>acquire_duration_seconds{job}`: store round trip of each answered acquisition. */
  acquireDuration: Histogram<'job'>;
  /** `<prefix>held_locks{job}`: locks this instance holds now (0 or 1 per job), read at scrape. */
  heldLocks: Gauge<'job'>;
  /**
   * `<prefix>paused{job}`: 1 while the job is paused fleet-wide, as this instance last learned it
   * (its own ticks and pause/resume calls, no store round trip), else 0. Read at scrape.
   */
  paused: Gauge<'job'>;
}

/** The metrics of one app, and how to put them in their registry and take them out again. */
export interface RegisteredCronLockMetrics {
  metrics: CronLockMetricSet;
  /**
   * Puts the metrics in their registry; throws {@link CronLockConfigError} when a name is taken
   * there, leaving none of them registered.
   */
  register(): void;
  /** Removes the metrics from their registry (the app is closing). */
  unregister(): void;
}

/**
 * Creates the metrics and registers them in `options.registry` at once (see
 * {@link createCronLockMetrics}).
 */
export function registerCronLockMetrics(
  options: ResolvedCronLockPrometheusOptions,
  heldLocks: () => readonly string[],
  knownJobs: ReadonlySet<string>,
  pausedJobs: () => readonly string[] = () => [],
): RegisteredCronLockMetrics {
  const created = createCronLockMetrics(options, heldLocks, knownJobs, pausedJobs);
  created.register();
  return created;
}

/**
 * Creates the metrics, in no registry until `register()`. `heldLocks()` is read at each scrape;
 * `knownJobs` are reported at 0 when not held, so the series does not vanish between runs.
 */
export function createCronLockMetrics(
  options: ResolvedCronLockPrometheusOptions,
  heldLocks: () => readonly string[],
  knownJobs: ReadonlySet<string>,
  pausedJobs: () => readonly string[] = () => [],
): RegisteredCronLockMetrics {
  const { registry, prefix } = options;
  const created = new Map<string, Metric>();
  const registered = new Set<string>();
  const unregister = (): void => {
    for (const name of registered) {
      // Only ours: a later app may have registered the name again since.
      if (registry.getSingleMetric(name) === created.get(name)) {
        registry.removeSingleMetric(name);
      }
    }
    registered.clear();
  };
  const register = (): void => {
    for (const [name, metric] of created) {
      if (registered.has(name)) {
        continue;
      }
      if (registry.getSingleMetric(name)) {
        unregister();
        throw new CronLockConfigError(
          `CronLockPrometheusModule: a metric named ${name} is already registered in this registry ` +
            '(another app of this process, or another library, registered it). Fix: pass ' +
            'registry: new Registry() or another prefix to CronLockPrometheusModule.forRoot().',
        );
      }
      registry.registerMetric(metric);
      registered.add(name);
    }
  };
  const add = <M extends Metric>(name: string, create: (name: string) => M): M => {
    const metric = create(name);
    created.set(name, metric);
    return metric;
  };
  // In no registry yet: registering is the one thing an app's bootstrap leaves behind it, so it
  // waits for register() (see CronLockMetrics).
  const registers: Registry[] = [];
  const counter = <L extends string>(suffix: string, help: string, labelNames: L[]): Counter<L> =>
    add(`${prefix}${suffix}`, (name) => new Counter({ name, help, labelNames, registers }));
  const histogram = <L extends string>(
    suffix: string,
    help: string,
    labelNames: L[],
    buckets: number[],
  ): Histogram<L> =>
    add(
      `${prefix}${suffix}`,
      (name) => new Histogram({ name, help, labelNames, buckets, registers }),
    );

  /** A gauge per known job: 0, plus 1 each time `on()` lists the job, read at every scrape. */
  const jobGauge = (suffix: string, help: string, on: () => Iterable<string>): Gauge<'job'> =>
    add(
      `${prefix}${suffix}`,
      (name) =>
        new Gauge({
          name,
          help,
          labelNames: ['job'],
          registers,
          collect() {
            this.reset();
            for (const job of knownJobs) {
              this.set({ job }, 0);
            }
            for (const job of on()) {
              this.inc({ job });
            }
          },
        }),
    );
  const heldGauge = jobGauge(
    'held_locks',
    'Locks this instance holds now, by job (1 while its run holds the lock).',
    heldLocks,
  );
  const pausedGauge = jobGauge(
    'paused',
    'Whether the job is paused fleet-wide (1) or not (0), as this instance last saw it.',
    pausedJobs,
  );

  const metrics: CronLockMetricSet = {
    runs: counter(
      'runs_total',
      'Runs that ended on this instance, by job and outcome (completed, failed).',
      ['job', 'outcome'],
    ),
    skips: counter(
      'skips_total',
      // Listed from the record the type checks: a reason added later is named here too.
      `Runs skipped on this instance, by job and reason (${SKIP_REASONS.join(', ')}).`,
      ['job', 'reason'],
    ),
    locksLost: counter(
      'locks_lost_total',
      'Locks lost while their job ran on this instance, by job and reason (expired, taken, unconfirmed).',
      ['job', 'reason'],
    ),
    storeErrors: counter(
      'store_errors_total',
      'Lock store failures, by job and operation (acquire, renew, release).',
      ['job', 'operation'],
    ),
    alerts: counter(
      'alerts_total',
      'Alerts raised on this instance, by job and kind (missed-success, store-failures, lost).',
      ['job', 'kind'],
    ),
    missed: counter(
      'missed_occurrences_total',
      'Occurrences that ran on no instance, by job, counted once fleet-wide by the instance that found them.',
      ['job'],
    ),
    runDuration: histogram(
      'run_duration_seconds',
      'Duration of the runs that ended on this instance, by job and outcome.',
      ['job', 'outcome'],
      options.runDurationBuckets,
    ),
    acquireDuration: histogram(
      'acquire_duration_seconds',
      'Lock store round trip of acquisitions it answered (taken or refused), by job.',
      ['job'],
      options.acquireDurationBuckets,
    ),
    heldLocks: heldGauge,
    paused: pausedGauge,
  };
  return { metrics, register, unregister };
}

/**
 * Starts every series of a job at 0 the first time the job is seen, so that `increase()` and
 * alert rules see the first failure, skip or loss as a change rather than a new series.
 */
export function zeroJobSeries(metrics: CronLockMetricSet, job: string): void {
  for (const outcome of Object.keys(OUTCOMES)) {
    metrics.runs.inc({ job, outcome }, 0);
  }
  for (const reason of SKIP_REASONS) {
    metrics.skips.inc({ job, reason }, 0);
  }
  for (const reason of Object.keys(LOSS_REASONS)) {
    metrics.locksLost.inc({ job, reason }, 0);
  }
  for (const operation of Object.keys(STORE_OPERATIONS)) {
    metrics.storeErrors.inc({ job, operation }, 0);
  }
  for (const kind of Object.keys(ALERT_KINDS)) {
    metrics.alerts.inc({ job, kind }, 0);
  }
  metrics.missed.inc({ job }, 0);
}
