import type { LockContext } from './lock-context.interface.js';
import type { Duration } from '../utils/duration.js';
import type { LazyAbortController } from '../utils/lazy-abort.js';
import type { LockRenewer } from './renewer.js';

/**
 * The {@link LockContext} a run receives. A class rather than an object literal: `signal` is a
 * getter (the `AbortSignal` is created on first read, see LazyAbortController), and V8 builds an
 * object literal with a getter on its slow path; a class keeps the context of every run on the
 * fast one.
 */
export class RunContext implements LockContext {
  constructor(
    readonly name: string,
    readonly scheduledAt: Date,
    readonly fencingToken: number,
    readonly instanceId: string,
    private readonly controller: LazyAbortController,
    readonly extend: (ttl?: Duration) => Promise<void>,
    readonly trigger: 'schedule' | 'catch-up' | 'manual' = 'schedule',
    /** The run's lock, when it holds one: each read of `signal` checks its deadline first. */
    private readonly lock?: Pick<LockRenewer, 'checkDeadline'>,
  ) {}

  /**
   * Checks the lock's deadline on every read: a job that resumes after a freeze (SIGSTOP, a long
   * GC pause, a blocking call) runs before the renewer's timers when its own timer or I/O is due
   * first, and must not read a lock gone unconfirmed as still held before a write.
   */
  get signal(): AbortSignal {
    this.lock?.checkDeadline();
    return this.controller.signal;
  }
}
