import type { Duration } from '../utils/duration.js';

/**
 * Handed to every locked run as its first argument.
 *
 * @publicApi
 */
export interface LockContext {
  /** The lock name of the job (`ClassName.methodName` unless set). */
  readonly name: string;
  /**
   * The scheduled occurrence this run is for, derived from the cron expression and this
   * instance's clock: the first instant of its local wall-clock time, so a time that a
   * daylight-saving fall-back repeats is one occurrence. For a manual run, the time of the call.
   */
  readonly scheduledAt: Date;
  /**
   * Greater than every token handed out earlier for this job, across all instances and Redis
   * restarts, plain locks (`CronLockService.run()` without `scheduledAt`) included: theirs comes
   * from the store's clock. Pass it to downstream writes so they can reject a stale holder. `0`
   * only for a run without the lock (`onStoreError: 'run'`).
   */
  readonly fencingToken: number;
  /**
   * Aborts when the lock is lost (reason: {@link LockLostError}), when a later occurrence replaces
   * the run (`overlap: 'replace'`; reason: {@link ReplacedError}; not with `renew: false`), or when
   * shutdown times out (reason: {@link ShutdownTimeoutError}). Pass it to anything cancellable.
   * Each read checks the lock's deadline: after a freeze or a blocking call past it,
   * `ctx.signal.aborted` is already `true`, before the renewer's timer runs.
   */
  readonly signal: AbortSignal;
  /**
   * What started this run: `'schedule'` for a scheduler tick (or a run for a given occurrence,
   * such as `runLockedJob()` or `CronLockService.run()` with `scheduledAt`), `'manual'` for a
   * call without an occurrence, e.g. application code calling a `@LockedCron` method itself;
   * `'catch-up'` for an occurrence that no instance ran, run late (the `catchUp` option). A queued
   * occurrence (`overlap`) runs as `'schedule'`, late.
   */
  readonly trigger: 'schedule' | 'catch-up' | 'manual';
  /** The instance running this job. */
  readonly instanceId: string;
  /**
   * Extends the lock now to `ttl` (default: the job's ttl) and keeps renewing at that ttl. With
   * `renew: false` it extends once: the lock expires at that ttl from the extend (the signal
   * aborts with reason `expired`) unless `extend()` is called again.
   * Rejects with {@link LockLostError} if the lock is no longer ours; once shutdown gave up on
   * the run, with the signal's {@link ShutdownTimeoutError} (the lock is kept until it expires).
   */
  extend(ttl?: Duration): Promise<void>;
}
