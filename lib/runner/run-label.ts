import { CronLockConfigError } from '../cron-lock.errors.js';
import { SERVICE_CALL } from '../cron-lock.messages.js';
import { describeValue } from '../utils/describe-value.js';

/**
 * Stands for the call in the messages of `CronLockService.run()`'s checks. `run()` is on the hot
 * path: naming the call from its `name` on every run would cost a string (and, through
 * `SERVICE_CALL`, a redaction) that only a refused call reads, so the checks name this constant
 * and {@link relabelRunError} writes the real call in when one of them throws.
 */
export const RUN_CALL = 'CronLockService.run(…)';

/**
 * `error` with {@link RUN_CALL} replaced by the call as `SERVICE_CALL` names it, which holds for a
 * name of any type (`String()` throws for an object without a prototype, `JSON.stringify` for a
 * BigInt). Anything else is returned as is.
 */
export function relabelRunError(error: unknown, name: unknown): unknown {
  if (!(error instanceof CronLockConfigError) || !error.message.includes(RUN_CALL)) {
    return error;
  }
  const call = SERVICE_CALL('run', name);
  // A function, not a string: a `$&` in the name must not be read as a replacement pattern.
  return new CronLockConfigError(error.message.replaceAll(RUN_CALL, () => call));
}

/**
 * `run()`'s third argument is not a function: most often the work's promise, called instead of
 * passed (`run(name, options, this.rebuild())`), which then runs outside the lock.
 */
export const RUN_CALLBACK_NOT_FUNCTION = (value: unknown): string =>
  `${RUN_CALL}: the code to run under the lock must be a function, got ${describeValue(value)}. ` +
  'Fix: pass the function itself, e.g. run(name, options, (ctx) => this.rebuild(ctx)), not what calling it returns.';
