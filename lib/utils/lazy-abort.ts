/**
 * An `AbortController` whose `AbortSignal` is created only when someone reads `signal`.
 *
 * Every locked run hands its job a signal, but most jobs never read it, and creating an
 * `AbortSignal` (an `EventTarget`) is the largest piece of a run's own work, and most jobs
 * never read the signal. An abort
 * that comes before the first read is remembered: the signal is then created already aborted,
 * with the same reason, exactly as if it had existed all along (listeners added after an abort
 * never fire, with either kind of controller).
 */
export class LazyAbortController {
  private controller: AbortController | undefined;
  private abortedWith: { reason: unknown } | undefined;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
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
