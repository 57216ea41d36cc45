/* Messages of the event listeners and alerts (`cron-lock.messages.ts` is at its line limit). */
import { describeValue } from '../utils/describe-value.js';

/** A custom store answered an acquisition with a `lastSuccessAt` that is no time. */
export const STORE_LAST_SUCCESS_INVALID = (name: string, value: unknown): string =>
  `The lock store answered an acquisition of job "${name}" with lastSuccessAt ` +
  `${describeValue(value)}, which is no time: the missed-success alert of this job is not ` +
  `checked until the store answers one. Fix: the store's acquire() must answer the end of the ` +
  `job's last successful run in ms since epoch (0 to 8.64e15), or null if none; ` +
  `describeLockStoreContract checks it.`;

/** `call` is `CronLockService.on` (or `off`, `onAny`); `example` a call that works. */
export const LISTENER_NOT_FUNCTION = (call: string, listener: unknown, example: string): string =>
  `${call}: the listener must be a function, got ${describeValue(listener)}` +
  (call.endsWith('.off') ? '; no listener was added as that' : '; it would fail on every event') +
  `. Fix: pass the function itself, e.g. ${example}.`;

/** `suggestion` is the known event a misspelt one most likely meant. */
export const UNKNOWN_EVENT = (
  call: string,
  event: unknown,
  suggestion: string | undefined,
  known: readonly string[],
): string =>
  `${call}: ${describeValue(event)} is not an event of CronLockService` +
  (suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`) +
  (call.endsWith('.off')
    ? ', so the listener would stay'
    : ', so the listener would never be called') +
  `. Fix: ` +
  (suggestion === undefined ? 'use one of the events' : `use "${suggestion}"`) +
  `; the events are ${known.join(', ')} (onAny() listens to all of them).`;

/** Why a job's state goes, and what keeps it, on each built-in store that can lose it. */
const STATE_LOSS = new Map<unknown, { cause: string; fix: string }>([
  [
    'redis',
    {
      cause: 'a Redis restart without persistence, or its key deleted',
      fix: 'give Redis persistence (appendonly yes) to keep pauses across restarts',
    },
  ],
  [
    'postgresql',
    {
      cause: 'its row deleted from the PostgreSQL lock table',
      fix: 'find what deletes rows of the lock table: only the lock store should write it',
    },
  ],
]);

/**
 * A pause this instance knew is gone with the rest of the job's state, not resumed. `kind` is the
 * store's own (`LockStore.kind`): the cause and the fix are those of the store in use, since a
 * Redis fix sends a PostgreSQL operator looking for a setting they do not have.
 */
export const PAUSE_LOST = (name: string, kind: unknown): string => {
  const loss = STATE_LOSS.get(kind) ?? {
    cause: 'the lock store dropped it, or it was deleted there',
    fix: "find what removes the job's state from the lock store",
  };
  return (
    `Job "${name}" was paused, and the lock store now has neither its pause nor any earlier ` +
    `occurrence of it: the job's state was lost (${loss.cause}), so it runs again. ` +
    `Fix: pause it again if it must stay paused, and ${loss.fix}.`
  );
};

/** The store failed the check of whether a pause ended by a resume or with the job's state. */
export const PAUSE_CHECK_FAILED = (name: string, why: string): string =>
  `Job "${name}" was paused and runs again with no earlier occurrence in the lock store; ` +
  `asking the store whether the job's state survived (a resume) failed: ${why}. The lost-pause ` +
  `warning that follows may be a false alarm if another instance resumed the job.`;
