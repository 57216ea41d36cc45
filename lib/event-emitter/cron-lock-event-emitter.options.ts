import { CronLockConfigError } from '../cron-lock.errors.js';
import { describeValue } from '../utils/describe-value.js';
import { rejectEmptyOptions } from '../utils/empty-options.js';
import { checkOptionKeys } from '../utils/option-keys.js';

/**
 * Options of {@link CronLockEventEmitterModule.forRoot}.
 *
 * @publicApi
 */
export interface CronLockEventEmitterOptions {
  /**
   * Prefix of the forwarded event names: event `lost` is emitted as `<prefix>.lost`.
   * Default `cron-lock`.
   */
  prefix?: string;
}

/** The validated options. */
export interface ResolvedCronLockEventEmitterOptions {
  prefix: string;
}

/** Injection token of the validated options. */
export const CRON_LOCK_EVENT_EMITTER_OPTIONS = Symbol.for(
  'nestjs-cron-lock.CRON_LOCK_EVENT_EMITTER_OPTIONS',
);

export const DEFAULT_EVENT_PREFIX = 'cron-lock';

/** Characters allowed in a prefix: those of event names people write in `@OnEvent()`. */
const PREFIX_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Validates the options (an object of known keys, none present but empty); throws
 * {@link CronLockConfigError} naming the option and the fix.
 */
export function resolveEventEmitterOptions(
  options: CronLockEventEmitterOptions = {},
): ResolvedCronLockEventEmitterOptions {
  // An unset variable (or a misspelt key) must not move the events back under the names other
  // handlers listen to.
  checkOptionKeys('CronLockEventEmitterModule.forRoot', options, ['prefix'], "{ prefix: 'jobs' }");
  rejectEmptyOptions('CronLockEventEmitterModule.forRoot', options, {
    prefix: `the default '${DEFAULT_EVENT_PREFIX}'`,
  });
  const prefix = options.prefix ?? DEFAULT_EVENT_PREFIX;
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
    throw new CronLockConfigError(
      `CronLockEventEmitterModule.forRoot: prefix ${describeValue(prefix)} is not allowed. ` +
        `Fix: use 1 to 64 characters among A-Z a-z 0-9 . _ : - (default '${DEFAULT_EVENT_PREFIX}').`,
    );
  }
  return { prefix };
}
