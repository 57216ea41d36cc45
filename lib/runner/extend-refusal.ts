import { LockLostError } from '../cron-lock.errors.js';
import { LOCK_LOST } from '../cron-lock.messages.js';
import type { LossReason } from '../stores/lock-store.interface.js';
import type { ActiveRun } from './run-tracker.js';

/**
 * What `ctx.extend()` rejects with when the lock was not extended, as the run was told on
 * `ctx.signal`. Once shutdown gave up on the run, its renewals stopped but its lock was not lost:
 * it stays until it expires, since the job may still be writing. A `LockLostError('expired')`
 * then said "another instance may now run it" while no other could, and contradicted the signal's
 * `ShutdownTimeoutError` (which `assertLocked()` throws too): the signal's reason is answered.
 * Otherwise, a {@link LockLostError} with the loss's reason.
 */
export function extendRefusal(name: string, reason: LossReason, run: ActiveRun): unknown {
  if (run.abandoned && run.controller.aborted) {
    return run.controller.signal.reason;
  }
  return new LockLostError(name, reason, LOCK_LOST(name, reason));
}
