import type { AcquireRequest, AcquireResult, LockStore } from './lock-store.interface.js';

/**
 * A store that can answer an acquisition in the caller's synchronous turn: the in-memory store.
 * With it, a tick reaches the method in the timer callback that fired it, as `@Cron`'s does,
 * so a test that advances fake timers synchronously sees every tick's call at once.
 */
export interface SynchronousAcquire {
  /**
   * Answers `request` now. With `joinSameTurn`, a scheduler tick of a later occurrence that
   * finds the lock held by a run of the same instance, started in the same synchronous turn,
   * shares the lock instead of being skipped as `held` (see {@link MemoryLockStore.acquireNow}).
   */
  acquireNow(request: AcquireRequest, options?: { joinSameTurn?: boolean }): AcquireResult;
}

/** The store's answer now, or `undefined` when the store only answers asynchronously. */
export function acquireNow(
  store: LockStore,
  request: AcquireRequest,
  joinSameTurn: boolean,
): AcquireResult | undefined {
  const synchronous = store as LockStore & Partial<SynchronousAcquire>;
  return typeof synchronous.acquireNow === 'function'
    ? synchronous.acquireNow(request, { joinSameTurn })
    : undefined;
}

let turn = 0;
let turnOpen = false;

/**
 * A number that changes at every microtask checkpoint. Two timer callbacks of a real event loop
 * never share one (Node runs microtasks between them); only a fake clock that fires several
 * timers in one synchronous call does. A native promise marks the checkpoint because fake-timer
 * libraries can fake `queueMicrotask` and `process.nextTick` (Jest does) but not promise jobs.
 */
export function synchronousTurn(): number {
  if (!turnOpen) {
    turnOpen = true;
    void Promise.resolve().then(() => {
      turnOpen = false;
      turn += 1;
    });
  }
  return turn;
}
