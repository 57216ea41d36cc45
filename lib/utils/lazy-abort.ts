import { guardSignal, type ListenerErrorSink } from './guarded-signal.js';

/**
 * An `AbortController` whose `AbortSignal` is created only when someone reads `signal`.
 *
 * Every locked run hands its job a signal, but most jobs never read it, and creating an
 * `AbortSignal` (an `EventTarget`) is the largest piece of a run's own work, and most jobs
 * never read the signal. An abort
 * that comes before the first read is remembered: the signal is then created already aborted,
 * with the same reason, exactly as if it had existed all along (listeners added after an abort
 * never fire, with either kind of controller).
 *
 * With `onListenerError`, the signal is guarded (see guardSignal): what its listeners throw goes
 * there, once per thrown object, instead of ending the process. Guarding costs nothing until the
 * signal is read: the run path only stores the callback.
 */
export class LazyAbortController {
  private controller: AbortController | undefined;
  private abortedWith: { reason: unknown } | undefined;

  constructor(private readonly onListenerError?: ListenerErrorSink) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.onListenerError !== undefined) {
        guardSignal(this.controller.signal, onceEach(this.onListenerError));
      }
      if (this.abortedWith !== undefined) {
        this.controller.abort(this.abortedWith.reason);
      }
    }
    return this.controller.signal;
  }

  /** Whether the signal was aborted, read without creating it. */
  get aborted(): boolean {
    return this.abortedWith !== undefined;
  }

  /** Aborts the signal with `reason`; like `AbortController.abort`, only the first call counts. */
  abort(reason: unknown): void {
    if (this.abortedWith !== undefined) {
      return;
    }
    this.abortedWith = { reason };
    this.controller?.abort(reason);
  }
}

/**
 * `sink`, called once per thrown object: listeners that rethrow the one abort reason (a common
 * way to turn the abort into an error) make one report, not one per listener. A primitive has no
 * identity to tell its throws apart, so each is reported.
 */
function onceEach(sink: ListenerErrorSink): ListenerErrorSink {
  let seen: WeakSet<object> | undefined;
  return (error) => {
    if ((typeof error === 'object' && error !== null) || typeof error === 'function') {
      seen ??= new WeakSet();
      if (seen.has(error)) {
        return;
      }
      seen.add(error);
    }
    sink(error);
  };
}
