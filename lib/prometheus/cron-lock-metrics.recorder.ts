import {
  Inject,
  Injectable,
  Optional,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { CRON_LOCK_SERVICE_MISSING, READ_BEFORE_INIT } from '../cron-lock.messages.js';
import { CronLockService } from '../cron-lock.service.js';
import {
  createCronLockMetrics,
  zeroJobSeries,
  type CronLockMetricSet,
  type RegisteredCronLockMetrics,
} from './cron-lock.metrics.js';
import {
  CRON_LOCK_PROMETHEUS_OPTIONS,
  type ResolvedCronLockPrometheusOptions,
} from './cron-lock-prometheus.options.js';

/**
 * Turns the events of {@link CronLockService} into Prometheus metrics: registers them at
 * `app.init()`, records every run, skip, lost lock, store error and alert, and removes them from the
 * registry on `app.close()` (so a later app of the same process can register them again). They
 * enter the registry at the app's `onApplicationBootstrap`, so a bootstrap that fails before it (in
 * another module's `onModuleInit`) leaves nothing there for the next attempt to collide with.
 *
 * @publicApi
 */
@Injectable()
export class CronLockMetrics
  implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown
{
  private registered: RegisteredCronLockMetrics | undefined;
  private readonly knownJobs = new Set<string>();
  private stops: (() => void)[] = [];

  constructor(
    @Inject(CRON_LOCK_PROMETHEUS_OPTIONS)
    private readonly options: ResolvedCronLockPrometheusOptions,
    // Optional so that a missing CronLockModule fails with our message, not a bare DI error.
    @Optional() @Inject(CronLockService) private readonly locks?: CronLockService,
  ) {}

  /**
   * The metric objects (registered once the app is initialised).
   *
   * @throws {CronLockConfigError} when read before `app.init()`.
   */
  get metrics(): CronLockMetricSet {
    if (!this.registered) {
      throw new CronLockConfigError(READ_BEFORE_INIT('CronLockMetrics.metrics'));
    }
    return this.registered.metrics;
  }

  /** @internal Creates the metrics and starts recording; they enter the registry at bootstrap. */
  onModuleInit(): void {
    const locks = this.locks;
    if (!locks) {
      throw new CronLockConfigError(CRON_LOCK_SERVICE_MISSING('CronLockPrometheusModule'));
    }
    this.registered = createCronLockMetrics(
      this.options,
      () => locks.heldLocks,
      this.knownJobs,
      () => locks.pausedJobs,
    );
    const metrics = this.registered.metrics;
    const seen = (job: string): string => {
      if (!this.knownJobs.has(job)) {
        this.knownJobs.add(job);
        zeroJobSeries(metrics, job);
      }
      return job;
    };
    this.stops = [
      locks.on('acquired', (e) => {
        metrics.acquireDuration.observe({ job: seen(e.name) }, e.acquireMs / 1000);
      }),
      locks.on('skipped', (e) => {
        metrics.skips.inc({ job: seen(e.name), reason: e.reason });
        if (e.acquireMs !== undefined) {
          metrics.acquireDuration.observe({ job: e.name }, e.acquireMs / 1000);
        }
      }),
      locks.on('completed', (e) => {
        metrics.runs.inc({ job: seen(e.name), outcome: 'completed' });
        metrics.runDuration.observe({ job: e.name, outcome: 'completed' }, e.durationMs / 1000);
      }),
      locks.on('failed', (e) => {
        metrics.runs.inc({ job: seen(e.name), outcome: 'failed' });
        metrics.runDuration.observe({ job: e.name, outcome: 'failed' }, e.durationMs / 1000);
      }),
      locks.on('lost', (e) => {
        metrics.locksLost.inc({ job: seen(e.name), reason: e.reason });
      }),
      locks.on('store-error', (e) => {
        metrics.storeErrors.inc({ job: seen(e.name), operation: e.operation });
      }),
      locks.on('missed', (e) => {
        metrics.missed.inc({ job: seen(e.name) });
      }),
      locks.on('alert', (e) => {
        metrics.alerts.inc({ job: seen(e.name), kind: e.kind });
      }),
      // A job paused here before it ran or skipped here is known only from these: unknown, its
      // paused series would vanish on resume instead of reading 0, and a rule on it never clears.
      locks.on('paused', (e) => void seen(e.name)),
      locks.on('resumed', (e) => void seen(e.name)),
    ];
  }

  /**
   * @internal Puts the metrics in the registry. Not at `onModuleInit`: `createApplicationContext()`
   * never hands back an app whose init failed, so nothing could take them out again, and a
   * bootstrap retried in the same process would find its own names taken (and a scrape would
   * read the service of an app that never started).
   */
  onApplicationBootstrap(): void {
    this.registered?.register();
  }

  /** @internal Stops recording (after the last runs drained) and unregisters the metrics. */
  onApplicationShutdown(): void {
    for (const stop of this.stops.splice(0)) {
      stop();
    }
    this.registered?.unregister();
  }
}
