/**
 * Lets `timer` (what `setTimeout` or `setInterval` returned) not keep the process alive, and
 * returns it. Node's timers have `unref()`; under jsdom (Jest's `testEnvironment: 'jsdom'`) or a
 * fake-timer library whose timers are numbers, they are an integer id, which has none: calling
 * `unref()` on it threw, and failed whatever path armed the timer. The environment owns the timer
 * behind an id (jsdom stops them all when its window closes): there is nothing to unref. Any other
 * handle without `unref()` (happy-dom's for a zero delay, or once its window closed) is left alone
 * too.
 */
export function unrefTimer<T extends ReturnType<typeof setTimeout>>(timer: T): T {
  // The static type is Node's: at run time it may be a number, or another handle.
  (timer as { unref?: () => unknown }).unref?.();
  return timer;
}
