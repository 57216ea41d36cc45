import type { LockContext } from './lock-context.interface.js';
import type { Duration } from '../utils/duration.js';
import type { LazyAbortController } from '../utils/lazy-abort.js';

/**
 * The {@link LockContext} a run receives. A class rather than an object literal: `signal` is a
 * getter (the `AbortSignal` is created on first read, see LazyAbortController), and V8 builds a
 * literal with a getter on a slow path, about thirty times the cost of a class instance; it was
 * the largest item of a run's own work in the benchmark.
 */
export class RunContext implements LockContext {
  constructor(
    readonly name: string,
    readonly scheduledAt: Date,
    readonly fencingToken: number,
    readonly instanceId: string,
    private readonly controller: LazyAbortController,
    readonly extend: (ttl?: Duration) => Promise<void>,
    readonly trigger: 'schedule' | 'manual' = 'schedule',
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }
}
