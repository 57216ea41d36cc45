import type { LockStore } from '../stores/lock-store.interface.js';
import { describeStoreError } from '../utils/redact.js';
import type { CronLockLogger } from './logger.js';
import { PAUSE_CHECK_FAILED, PAUSE_LOST } from './observer.messages.js';

/**
 * A pause this instance knew is over, and the store answered the occurrence just won with none
 * claimed before it. Either the job's state is gone (a Redis restart without persistence, its key
 * or row deleted), or another instance resumed the job before any occurrence was claimed: only
 * the first deserves the warning, which tells an operator the store lost data.
 *
 * The job's registered schedule tells them apart: `registerJob()` writes it at bootstrap, a resume
 * leaves it, and no acquisition writes it back, so it is missing after the acquisition only when
 * the state went. One `inspect()`, asked here, never on the run's path (this case is rare; a
 * normal run costs no extra round trip). A job the store has no schedule for (a `run()` with
 * `scheduledAt` and no cron, a store without `registerJob()`) cannot be told apart, and is warned
 * as before.
 *
 * Never rejects. A store that fails the check keeps the warning, after a debug line: the answer
 * that raised it still says the state may be gone, and a pause lost in silence (the job running
 * while its operators think it stopped) costs more than a wrong line.
 */
export async function warnIfPauseLost(
  store: LockStore,
  name: string,
  log: CronLockLogger,
): Promise<void> {
  let kept = false;
  try {
    const { cron } = await store.inspect(name);
    kept = typeof cron === 'string' && cron !== '';
  } catch (error) {
    log.debug(PAUSE_CHECK_FAILED(name, describeStoreError(error)));
  }
  if (!kept) {
    log.warn(PAUSE_LOST(name, store.kind));
  }
}
