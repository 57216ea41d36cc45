import { KEY_PREFIX_PATTERN } from '../cron-lock.constants.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { INVALID_KEY_PREFIX } from '../cron-lock.messages.js';

/** Whether `keyPrefix` is a key prefix the module accepts: a string matching KEY_PREFIX_PATTERN. */
export function isKeyPrefix(keyPrefix: unknown): keyPrefix is string {
  // A string only: the pattern's test would read a number or null as its text and pass it.
  return typeof keyPrefix === 'string' && KEY_PREFIX_PATTERN.test(keyPrefix);
}

/**
 * Checks a key prefix where one is set (the module, `RedisLockStore`, the CLI): braces would put
 * every job in one Cluster slot, and glob characters or blanks break the ACL key pattern
 * (`~<prefix>:*`) and the CLI's `SCAN MATCH`. Throws {@link CronLockConfigError} naming `owner`.
 */
export function checkKeyPrefix(owner: string, keyPrefix: unknown): string {
  if (!isKeyPrefix(keyPrefix)) {
    throw new CronLockConfigError(INVALID_KEY_PREFIX(owner, keyPrefix));
  }
  return keyPrefix;
}
