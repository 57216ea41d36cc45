/**
 * Runs `fn` once the current synchronous code is over, as `queueMicrotask` does, but as a promise
 * job: fake-timer libraries fake `queueMicrotask` (Jest's modern timers do by default) and cannot
 * fake promise jobs, so a user's test that never advances its clock still sees `fn` run.
 */
export function afterThisTurn(fn: () => unknown): void {
  void Promise.resolve().then(fn);
}
