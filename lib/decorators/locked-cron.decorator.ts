import { Cron } from '@nestjs/schedule';
import { isMethodBound } from '../cron-lock.bindings.js';
import { CRON_LOCK_METADATA } from '../cron-lock.constants.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { MODULE_MISSING } from '../cron-lock.messages.js';
import type { LockedCronOptions } from '../interfaces/locked-cron-options.interface.js';
import type { Duration } from '../utils/duration.js';
import { processWide } from '../utils/process-wide.js';
import { CronLock, type CronLockMetadata } from './cron-lock.decorator.js';

/** `@nestjs/schedule`'s metadata key for `@Cron` options (not exported by the package). */
const SCHEDULE_CRON_OPTIONS = 'SCHEDULE_CRON_OPTIONS';

/**
 * Lock names `@nestjs/schedule` has read in the current synchronous pass, with the method that
 * claimed each. Its explorer reads every job's name in one synchronous loop per app and throws
 * its own message on a duplicate; when it runs before ours (module order), that message would
 * replace ours, which names both methods and the fix.
 */
const pass = processWide('names-read-in-pass', () => ({
  names: new Map<string, object>(),
  duplicates: 0,
}));

/**
 * The name `@nestjs/schedule` registers `method`'s job under: the lock name, unless another
 * method claimed it in the same pass — then a placeholder, so that the CronLockExplorer of that
 * app (which keeps its claims per app) reports the duplicate with the right message.
 */
function scheduledName(name: string, method: object): string {
  if (pass.names.size === 0) {
    queueMicrotask(() => pass.names.clear());
  }
  const claimedBy = pass.names.get(name);
  if (claimedBy === undefined) {
    pass.names.set(name, method);
    return name;
  }
  return claimedBy === method ? name : `${name}#duplicate-${++pass.duplicates}`;
}

/**
 * A drop-in for `@Cron` that runs each scheduled occurrence once across all instances.
 * The method stays scheduled by `@nestjs/schedule` (visible in `SchedulerRegistry` when
 * `name` is set); every tick first takes the job's lock, and receives a {@link LockContext}.
 *
 * ```ts
 * @LockedCron('0 * * * *', '5m')
 * async hourly(ctx: LockContext) {}
 *
 * @LockedCron(CronExpression.EVERY_MINUTE, { ttl: 30_000, name: 'sync', timeZone: 'Europe/Paris' })
 * async sync() {}
 * ```
 *
 * @param cronTime A cron expression (5 or 6 fields) or a `CronExpression` value.
 * @param ttlOrOptions The lock ttl, or {@link LockedCronOptions}.
 * @publicApi
 */
export function LockedCron(
  cronTime: string,
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
    const locked = CronLock(options)(target, methodKey, descriptor) as TypedPropertyDescriptor<T>;
    const method = locked.value as object;
    const metadata = Reflect.getMetadata(CRON_LOCK_METADATA, method) as CronLockMetadata;
    Reflect.defineMetadata(CRON_LOCK_METADATA, { ...metadata, options, cronTime }, method);

    const cronOptions: Record<string, unknown> = {};
    for (const key of ['name', 'timeZone', 'utcOffset', 'disabled'] as const) {
      if (options[key] !== undefined) {
        cronOptions[key] = options[key];
      }
    }
    const scheduled = (Cron(cronTime, cronOptions)(target, methodKey, locked) ??
      locked) as TypedPropertyDescriptor<T>;

    // @nestjs/schedule reads `cronTime` only when it mounts jobs, after every module has
    // initialised. If no CronLockModule bound this method by then, the app lacks the module:
    // fail app.init() with the fix rather than run the job unlocked or silently never.
    const label = `${metadata.declaredBy}.${String(methodKey)}`;
    const cronMetadata = Reflect.getMetadata(SCHEDULE_CRON_OPTIONS, method) as Record<
      string,
      unknown
    >;
    Object.defineProperty(cronMetadata, 'cronTime', {
      enumerable: true,
      configurable: true,
      get: () => {
        if (!isMethodBound(method)) {
          throw new CronLockConfigError(MODULE_MISSING(label));
        }
        return cronTime;
      },
    });
    if (typeof options.name === 'string') {
      const name = options.name;
      Object.defineProperty(cronMetadata, 'name', {
        enumerable: true,
        configurable: true,
        get: () => scheduledName(name, method),
      });
    }
    return scheduled;
  };
}
