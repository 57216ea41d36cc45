/**
 * The listeners a job hangs on its `ctx.signal` run when the module aborts it (lock lost, run
 * replaced, shutdown timed out), inside the module's own call. Node's `EventTarget` reports a
 * listener's error (or the rejection of an async one) as an uncaught exception on a later turn,
 * which ends the process: a job's mistake in a listener would take down every other job with it.
 *
 * A guarded signal is still the genuine `AbortSignal` (fetch, `AbortSignal.any`,
 * `throwIfAborted()`, `reason` and Node's own APIs use its internal state), with a prototype of
 * its own in between whose `addEventListener`, `removeEventListener` and `onabort` register
 * each user listener through a wrapper that catches what it throws and hands it to the run's
 * `onListenerError`. The wrapper is kept per listener (in a WeakMap), so adding the same
 * listener twice still adds it once and removing it removes what was added.
 */

/** Where a guarded signal sends what a listener threw; must not throw. */
export type ListenerErrorSink = (error: unknown) => void;

/** A listener as `addEventListener` takes it (the DOM's type, which this package does not load). */
type Listener = ((event: Event) => unknown) | { handleEvent(event: Event): unknown };

const SINK = Symbol('cronLock.listenerErrorSink');

interface GuardedSignal extends AbortSignal {
  [SINK]: ListenerErrorSink;
}

/**
 * The wrapper of each listener, shared by every signal it is added to: it finds the signal's sink
 * through `this`.
 */
const wrappers = new WeakMap<object, (this: unknown, event: Event) => void>();
/** Back from a wrapper to its listener, for the `onabort` getter. */
const listeners = new WeakMap<object, unknown>();

const eventTarget = EventTarget.prototype;
const onabort = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'onabort');

function report(target: unknown, error: unknown): void {
  const sink = (target as Partial<GuardedSignal> | null | undefined)?.[SINK];
  if (sink === undefined) {
    // Called on something that is not a guarded signal (its methods borrowed by hand): behave
    // as that target would without us.
    throw error;
  }
  try {
    sink(error);
  } catch {
    // Reporting is best effort: a failure here must not become the crash it prevents.
  }
}

/** Whether the value returned by a listener is a promise-like whose rejection must be caught. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function wrap(listener: Listener): (event: Event) => void {
  let wrapper = wrappers.get(listener);
  if (wrapper === undefined) {
    wrapper = function (this: unknown, event: Event): void {
      try {
        // As the DOM does: a function is called with the signal as `this`; an object's
        // `handleEvent` is looked up when the event fires, and called on the object.
        const result: unknown =
          typeof listener === 'function'
            ? (listener as (this: unknown, event: Event) => unknown).call(this, event)
            : typeof listener.handleEvent === 'function'
              ? (listener.handleEvent(event) as unknown)
              : undefined;
        if (isThenable(result)) {
          result.then(undefined, (error: unknown) => report(this, error));
        }
      } catch (error) {
        report(this, error);
      }
    };
    wrappers.set(listener, wrapper);
    listeners.set(wrapper, listener);
  }
  return wrapper;
}

/** Only functions and objects are listeners; anything else goes to Node as is, to be refused. */
function wrappable(listener: unknown): listener is Listener {
  return typeof listener === 'function' || (typeof listener === 'object' && listener !== null);
}

const guardedPrototype: AbortSignal = Object.create(AbortSignal.prototype, {
  addEventListener: {
    configurable: true,
    writable: true,
    value(this: AbortSignal, ...args: Parameters<EventTarget['addEventListener']>): void {
      if (args.length >= 2 && wrappable(args[1])) {
        args[1] = wrap(args[1]);
      }
      eventTarget.addEventListener.apply(this, args);
    },
  },
  removeEventListener: {
    configurable: true,
    writable: true,
    value(this: AbortSignal, ...args: Parameters<EventTarget['removeEventListener']>): void {
      const wrapper = wrappable(args[1]) ? wrappers.get(args[1]) : undefined;
      if (wrapper !== undefined) {
        args[1] = wrapper;
      }
      eventTarget.removeEventListener.apply(this, args);
    },
  },
  onabort: {
    configurable: true,
    enumerable: true,
    get(this: AbortSignal): unknown {
      const handler: unknown = onabort?.get?.call(this);
      return wrappable(handler) ? (listeners.get(handler) ?? handler) : handler;
    },
    set(this: AbortSignal, handler: unknown): void {
      // Node calls only a function set as `onabort`; anything else is stored as is.
      onabort?.set?.call(this, typeof handler === 'function' ? wrap(handler as Listener) : handler);
    },
  },
}) as AbortSignal;

/**
 * Makes `signal` report what its listeners throw to `sink` instead of crashing the process (see
 * the top of this file). Call it before the signal is handed out: a listener added earlier, or
 * through `EventTarget.prototype.addEventListener` itself, is not guarded.
 */
export function guardSignal(signal: AbortSignal, sink: ListenerErrorSink): AbortSignal {
  Object.setPrototypeOf(signal, guardedPrototype);
  (signal as GuardedSignal)[SINK] = sink;
  return signal;
}
