import type { CronJobParams } from 'cron';
import { CRON_LOCK_METADATA } from '../cron-lock.constants.js';
import type { LockedCronOptions } from '../options/job-options.interface.js';
import type { Duration } from '../utils/duration.js';
import { CronLock, type CronLockMetadata } from './cron-lock.decorator.js';
import { checkInstanceMethod } from './lock-method.js';
import { scheduleLockedMethod } from '../interop/nestjs-schedule.js';

/**
 * A drop-in for `@Cron` that runs each scheduled occurrence once across all instances.
 * The method stays scheduled by `@nestjs/schedule` (visible in `SchedulerRegistry` when
 * `name` is set); every tick first takes the job's lock, and receives a {@link LockContext}.
 * A call of the method from your own code is a manual run: under the lock (never beside a
 * running tick), claiming no occurrence, with `ctx.trigger === 'manual'`; it returns the
 * method's value.
 *
 * ```ts
 * @LockedCron('0 * * * *', '5m')
 * async hourly(ctx: LockContext) {}
 *
 * @LockedCron(CronExpression.EVERY_MINUTE, { ttl: 30_000, name: 'sync', timeZone: 'Europe/Paris' })
 * async sync() {}
 *
 * @LockedCron(new Date('2030-01-01T09:00:00Z'))   // one occurrence, run once across the fleet
 * async launch() {}
 * ```
 *
 * @param cronTime A cron expression (5 or 6 fields), a `CronExpression` value, or a `Date` or
 *   luxon `DateTime` (a one-shot job), as `@Cron` takes it.
 * @param ttlOrOptions The lock ttl, or {@link LockedCronOptions} (every `CronOptions` key of
 *   `@nestjs/schedule` plus the lock's own).
 * @publicApi
 */
export function LockedCron(
  cronTime: CronJobParams['cronTime'],
  ttlOrOptions?: Duration | LockedCronOptions,
): MethodDecorator {
  const options: LockedCronOptions =
    typeof ttlOrOptions === 'object' && ttlOrOptions !== null
      ? { ...ttlOrOptions }
      : ttlOrOptions === undefined
        ? {}
        : { ttl: ttlOrOptions };
  return <T>(
    target: object,
    methodKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T> => {
    checkInstanceMethod('@LockedCron', target, methodKey, descriptor);
    const locked = CronLock(options)(target, methodKey, descriptor) as TypedPropertyDescriptor<T>;
    const method = locked.value as object;
    const metadata = Reflect.getMetadata(CRON_LOCK_METADATA, method) as CronLockMetadata;
    Reflect.defineMetadata(CRON_LOCK_METADATA, { ...metadata, options, cronTime }, method);
    const label = `${metadata.declaredBy}.${String(methodKey)}`;
    return scheduleLockedMethod(target, methodKey, locked, cronTime, options, label);
  };
}
