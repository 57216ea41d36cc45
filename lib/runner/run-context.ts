import type { LockContext } from './lock-context.interface.js';
import type { Duration } from '../utils/duration.js';
import type { LazyAbortController } from '../utils/lazy-abort.js';

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
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }
}
