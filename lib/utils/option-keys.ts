import { CronLockConfigError } from '../cron-lock.errors.js';
import { INVALID_OPTION, UNKNOWN_OPTION } from '../cron-lock.messages.js';
import { describeValue } from './describe-value.js';
import { didYouMean } from './did-you-mean.js';

/** Options given as something else than an object: `where` names the call, `example` a fix. */
export const OPTIONS_NOT_AN_OBJECT = (where: string, value: unknown, example: string): string =>
  `${where}: the options must be an object, got ${describeValue(value)}. ` +
  `Fix: pass an object such as ${example}, or leave the options out for the defaults.`;

/**
 * Refuses options that are not a plain object, or that carry a key `known` does not list (with
 * the closest known key): unchecked, a misspelt key (`keyprefix`, `tabel`, `registery`) quietly
 * left its option at the default, a namespace or table shared with apps meant to be apart.
 * Throws {@link CronLockConfigError} naming `where`.
 */
export function checkOptionKeys(
  where: string,
  options: unknown,
  known: readonly string[],
  example: string,
): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CronLockConfigError(OPTIONS_NOT_AN_OBJECT(where, options, example));
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new CronLockConfigError(UNKNOWN_OPTION(where, key, didYouMean(key, known), known));
    }
  }
}

/**
 * Refuses a `logger` option that is neither `false` nor a Nest `LoggerService` with `log`, `error`
 * and `warn` (as the module's own `logger` option): one without them would lose the lines it was
 * given, connection trouble included, without a word. Absent (`undefined`) is left to the caller.
 */
export function checkLoggerOption(where: string, logger: unknown): void {
  if (logger === undefined || logger === false) {
    return;
  }
  const service = logger as Partial<Record<'log' | 'error' | 'warn', unknown>> | null;
  if (
    typeof service !== 'object' ||
    service === null ||
    typeof service.log !== 'function' ||
    typeof service.error !== 'function' ||
    typeof service.warn !== 'function'
  ) {
    throw new CronLockConfigError(
      INVALID_OPTION(where, 'logger', 'a Nest LoggerService (log, error, warn) or false', logger),
    );
  }
}
