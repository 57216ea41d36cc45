/*
 * The arguments of the built-in stores' own fleet methods (inspect, pause, resume, history,
 * registerJob, currentToken), checked before any round trip. The stores are public classes that
 * admin tools and scripts call directly; unchecked, Redis coerced a name such as `undefined` into
 * a key, PostgreSQL refused it with its own error text (as a store failure), and the memory store
 * kept anything: three answers to one mistake.
 */
import {
  LOCK_NAME_PATTERN,
  MAX_PAUSE_REASON_LENGTH,
  PAUSE_NOTE_FORBIDDEN,
} from '../cron-lock.constants.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { INVALID_FLEET_ARGUMENT, INVALID_LOCK_NAME } from '../cron-lock.messages.js';
import { describeValue } from '../utils/describe-value.js';
import { isDateMs, LAST_DATE_MS } from '../utils/occurrence.js';

/** A pause note as every caller takes it: 1 to 500 characters, on one line, not blank. */
export function isPauseNote(reason: unknown): reason is string {
  return (
    typeof reason === 'string' &&
    reason.trim().length > 0 &&
    reason.length <= MAX_PAUSE_REASON_LENGTH &&
    !PAUSE_NOTE_FORBIDDEN.test(reason)
  );
}

/** `RedisLockStore.pause("nightly")`, as the messages name the call. */
function storeCall(store: string, method: string, name: unknown): string {
  return `${store}.${method}(${describeValue(name, 200)})`;
}

/**
 * Rejects a job name no lock can have (the pattern `run()` and `CronLockService` check), so the
 * three stores answer it alike: with a `CronLockConfigError` naming the call.
 */
export function checkJobName(store: string, method: string, name: unknown): void {
  if (typeof name !== 'string' || !LOCK_NAME_PATTERN.test(name)) {
    throw new CronLockConfigError(INVALID_LOCK_NAME(storeCall(store, method, name), name));
  }
}

/**
 * Rejects a pause the stores would keep differently: `until` must be `null` or a whole number of
 * ms since epoch that a `Date` holds (`NaN` was a pause until resumed on Redis, no pause at all
 * on the memory store, a database error on PostgreSQL), `reason` `null` or a note as
 * `CronLockService.pause()` takes it. An `until` already past is kept: the store's clock decides,
 * and such a pause is simply over.
 */
export function checkPauseRequest(store: string, name: unknown, pause: unknown): void {
  checkJobName(store, 'pause', name);
  const call = storeCall(store, 'pause', name);
  if (typeof pause !== 'object' || pause === null) {
    throw new CronLockConfigError(
      INVALID_FLEET_ARGUMENT(call, 'pause', 'an object { reason, until }', pause),
    );
  }
  const { reason, until } = pause as { reason?: unknown; until?: unknown };
  if (reason !== null && !isPauseNote(reason)) {
    throw new CronLockConfigError(
      INVALID_FLEET_ARGUMENT(
        call,
        'reason',
        `null or a note of 1 to ${MAX_PAUSE_REASON_LENGTH} characters, on one line, with no bidi override`,
        reason,
      ),
    );
  }
  if (until !== null && !isDateMs(until)) {
    throw new CronLockConfigError(
      INVALID_FLEET_ARGUMENT(
        call,
        'until',
        `null (until resumed) or a whole number of ms since epoch, 0 to ${LAST_DATE_MS}, such as Date.now() + 3_600_000`,
        until,
      ),
    );
  }
}
