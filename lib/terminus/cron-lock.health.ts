import {
  Inject,
  Injectable,
  Optional,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { CRON_LOCK_SERVICE_MISSING } from '../cron-lock.messages.js';
import type { CronLockEvents } from '../observer/events.js';
import { CronLockService } from '../cron-lock.service.js';
import { describeStoreError } from '../utils/redact.js';
import { withTimeout } from '../utils/with-timeout.js';
import {
  resolveHealthCheckOptions,
  type CronLockHealthCheckOptions,
} from './cron-lock-health.options.js';
import { RecentEvents, type RecentEvent } from './recent-events.js';

type LostDetail = Pick<CronLockEvents['lost'], 'name' | 'reason'>;
type StoreErrorDetail = Pick<CronLockEvents['store-error'], 'name' | 'operation' | 'message'>;

/**
 * A `@nestjs/terminus` health indicator for the lock: `up` with the store's round trip while
 * the store answers and nothing went wrong lately; `down`, with details, when the store does
 * not answer (or answers slower than `maxRoundTripMs`), when a lock was lost while its job ran,
 * or when the store failed `storeErrorThreshold` times within `window`. It is `up` again once
 * those events are older than the window. Jobs paused fleet-wide are listed (`pausedJobs`) and
 * never make it `down`.
 *
 * ```ts
 * @Get('health')
 * @HealthCheck()
 * check() {
 *   return this.health.check([() => this.cronLock.isHealthy('cron-lock', { maxRoundTripMs: 100 })]);
 * }
 * ```
 *
 * @publicApi
 */
@Injectable()
export class CronLockHealthIndicator implements OnModuleInit, OnApplicationShutdown {
  private readonly lost = new RecentEvents<LostDetail>();
  private readonly storeErrors = new RecentEvents<StoreErrorDetail>();
  private stops: (() => void)[] = [];

  constructor(
    @Inject(HealthIndicatorService) private readonly health: HealthIndicatorService,
    // Optional so that a missing CronLockModule fails with our message, not a bare DI error.
    @Optional() @Inject(CronLockService) private readonly locks?: CronLockService,
  ) {}

  /** @internal Starts counting lost locks and store errors (from `app.init()` on). */
  onModuleInit(): void {
    const locks = this.requireLocks();
    this.stops = [
      locks.on('lost', ({ name, reason }) => this.lost.add({ name, reason })),
      locks.on('store-error', ({ name, operation, message }) =>
        this.storeErrors.add({ name, operation, message }),
      ),
    ];
  }

  /** @internal */
  onApplicationShutdown(): void {
    for (const stop of this.stops.splice(0)) {
      stop();
    }
  }

  /**
   * Pings the lock store and looks at the lost locks and store errors of the last `window`.
   *
   * @param key the key of this indicator in the health check result. Default `cron-lock`.
   * @returns `{ [key]: { status, roundTripMs, lostLocks, storeErrors, windowMs, pausedJobs, ... } }`;
   *   when `down`, also `message` and the last lost lock / store error (`lastLost`,
   *   `lastStoreError`). Never a token, a password or a URL with credentials.
   */
  async isHealthy<const Key extends string = 'cron-lock'>(
    key: Key = 'cron-lock' as Key,
    options: CronLockHealthCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const locks = this.requireLocks();
    const { maxRoundTripMs, timeoutMs, windowMs, storeErrorThreshold } =
      resolveHealthCheckOptions(options);
    const session = this.health.check(key);
    const problems: string[] = [];

    let roundTripMs: number | null = null;
    try {
      roundTripMs = round(
        await withTimeout(locks.ping(), timeoutMs, `no answer within ${timeoutMs}ms`),
      );
      if (maxRoundTripMs !== undefined && roundTripMs > maxRoundTripMs) {
        problems.push(
          `lock store round trip ${roundTripMs}ms is over maxRoundTripMs ${maxRoundTripMs}`,
        );
      }
    } catch (error) {
      problems.push(`lock store unreachable: ${describeStoreError(error)}`);
    }

    const lost = this.lost.within(windowMs);
    const storeErrors = this.storeErrors.within(windowMs);
    const lastLost = lost.at(-1);
    const lastStoreError = storeErrors.at(-1);
    if (lastLost) {
      problems.push(
        `${lost.length} lock(s) lost within the last ${windowMs}ms ` +
          `(last: "${lastLost.detail.name}", ${lastLost.detail.reason})`,
      );
    }
    if (lastStoreError && storeErrors.length >= storeErrorThreshold) {
      problems.push(
        `${storeErrors.length} store errors within the last ${windowMs}ms ` +
          `(threshold ${storeErrorThreshold}; last: ${lastStoreError.detail.operation} of ` +
          `"${lastStoreError.detail.name}": ${lastStoreError.detail.message})`,
      );
    }

    // Listed, never a problem: a paused job is an operator's decision, not a fault.
    const details = {
      roundTripMs,
      lostLocks: lost.length,
      storeErrors: storeErrors.length,
      windowMs,
      pausedJobs: locks.pausedJobs,
    };
    if (problems.length === 0) {
      return session.up(details);
    }
    return session.down({
      message: problems.join('; '),
      ...details,
      ...(lastLost && {
        lastLost: describe(lastLost, ({ name, reason }) => ({ job: name, reason })),
      }),
      ...(lastStoreError && {
        lastStoreError: describe(lastStoreError, ({ name, operation, message }) => ({
          job: name,
          operation,
          message,
        })),
      }),
    });
  }

  private requireLocks(): CronLockService {
    if (!this.locks) {
      throw new CronLockConfigError(CRON_LOCK_SERVICE_MISSING('CronLockHealthIndicator'));
    }
    return this.locks;
  }
}

function describe<T, D extends object>(
  event: RecentEvent<T>,
  fields: (detail: T) => D,
): D & { at: string } {
  return { ...fields(event.detail), at: event.time.toISOString() };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
