import type { CronJobParams } from 'cron';
import { CRON_LOCK_METADATA } from '../cron-lock.constants.js';
import type { CronLockOptions, LockedCronOptions } from '../options/job-options.interface.js';
import { checkInstanceMethod, lockMethod } from './lock-method.js';

/** What the decorators leave on a locked method for the explorer to validate and bind. */
export interface CronLockMetadata {
  /** Options as written; validated at bootstrap so that `app.init()` reports them. */
  options: LockedCronOptions;
  /**
   * The cron expression (or one-shot date) of `@LockedCron`; for `@CronLock` it is read from
   * `@Cron`'s metadata.
   */
  cronTime?: CronJobParams['cronTime'];
  /** The class that declared the method, for messages. */
  declaredBy: string;
  /**
   * The locked replacement this decorator installed. A decorator stacked above it (tracing,
   * logging) may wrap it and copy this metadata onto its wrapper: the job is still this function's.
   */
  locked: object;
}

/**
 * Runs every call of the method under a lock. Combine it by hand with `@Cron` or `@Interval`
 * (either order), or use it alone to lock a method your own code calls:
 *
 * ```ts
 * @Cron('0 * * * *', { name: 'report' })
 * @CronLock({ ttl: '5m' })
 * async report(ctx: LockContext) {}
 * ```
 * With `@Cron` the occurrence comes from the cron expression (`@Cron(date)`: that date, run once
 * across the fleet); with `@Interval` from the interval-aligned wall clock; alone (or with
 * `@Timeout`, whose moment is each instance's own), the lock only excludes overlapping runs.
 *
 * @publicApi
 */
export function CronLock(options: CronLockOptions = {}): MethodDecorator {
  return <T>(
    target: object,
    methodKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T> => {
    checkInstanceMethod('@CronLock', target, methodKey, descriptor);
    const original = descriptor.value;
    const locked = lockMethod(original as never, methodKey);
    const metadata: CronLockMetadata = {
      options: { ...options },
      declaredBy: (target as { constructor: { name: string } }).constructor.name,
      locked,
    };
    Reflect.defineMetadata(CRON_LOCK_METADATA, metadata, locked);
    return { ...descriptor, value: locked as T };
  };
}
