import { CronLockConfigError } from '../cron-lock.errors.js';
import { OPTION_EMPTY } from '../cron-lock.messages.js';

/**
 * Throws {@link CronLockConfigError} for the first key of `options` named in `defaults` whose
 * value is `undefined` or `null`: the key was set (often from an unset environment variable), so
 * taking its default would hide the mistake. `defaults` says, per key, what leaving it out gives;
 * `prefix` names a nested object (`'alerts.'`).
 */
export function rejectEmptyOptions(
  where: string,
  options: object,
  defaults: Readonly<Record<string, string>>,
  prefix = '',
): void {
  for (const key in options) {
    if (!Object.prototype.hasOwnProperty.call(defaults, key)) {
      continue;
    }
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined || value === null) {
      throw new CronLockConfigError(OPTION_EMPTY(where, prefix + key, value, defaults[key]));
    }
  }
}
