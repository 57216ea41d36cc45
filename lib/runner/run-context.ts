import type { LockContext } from './lock-context.interface.js';
import type { Duration } from '../utils/duration.js';
import type { LockRenewer } from './renewer.js';
import type { ActiveRun } from './run-tracker.js';

/** Reads a context's run; set by the class itself, so its `#run` stays out of user code's reach. */
let runOf: (ctx: RunContext) => ActiveRun;

/**
 * The {@link LockContext} a run receives. A class rather than an object literal: `signal` is a
 * getter (the `AbortSignal` is created on first read, see LazyAbortController), and V8 builds an
 * object literal with a getter on its slow path; a class keeps the context of every run on the
 * fast one.
 *
 * The run and the lock are `#private`: user code logs its context (`console.log(ctx)`, a JSON
 * logger), and neither inspect nor a serializer reads private fields, so what it prints is the
 * documented members, never the owner token the renewer holds or the store's client (whose
 * options carry the Redis password).
 */
export class RunContext implements LockContext {
  static {
    runOf = (ctx) => ctx.#run;
  }

  /** The run's state (its signal's controller, whether it lost its lock): see runOfContext. */
  readonly #run: ActiveRun;
  /** The run's lock, when it holds one: each read of `signal` checks its deadline first. */
  readonly #lock: Pick<LockRenewer, 'checkDeadline'> | undefined;

  constructor(
    readonly name: string,
    readonly scheduledAt: Date,
    readonly fencingToken: number,
    readonly instanceId: string,
    run: ActiveRun,
    readonly extend: (ttl?: Duration) => Promise<void>,
    readonly trigger: 'schedule' | 'catch-up' | 'manual' = 'schedule',
    lock?: Pick<LockRenewer, 'checkDeadline'>,
  ) {
    this.#run = run;
    this.#lock = lock;
  }

  /**
   * Checks the lock's deadline on every read: a job that resumes after a freeze (SIGSTOP, a long
   * GC pause, a blocking call) runs before the renewer's timers when its own timer or I/O is due
   * first, and must not read a lock gone unconfirmed as still held before a write.
   */
  get signal(): AbortSignal {
    this.#lock?.checkDeadline();
    return this.#run.controller.signal;
  }
}

/**
 * The run a context was handed to, for how that run ended as its history records it (see
 * endedOutcome): the same state the runner records from, not what its signal says, whose reason
 * is only the first of the run's aborts. `undefined` for a context the runner did not make.
 */
export function runOfContext(ctx: LockContext): ActiveRun | undefined {
  return ctx instanceof RunContext ? runOf(ctx) : undefined;
}
