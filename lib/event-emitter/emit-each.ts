import { EventEmitter2 } from '@nestjs/event-emitter';
import { ListenerResults } from '../observer/events.js';

/** The listener type EventEmitter2 returns from `listeners()`. */
type EmitterListener = ReturnType<EventEmitter2['listeners']>[number];

/**
 * Emits `name` with `payload` on the app's EventEmitter2 as its `emitAsync()` does: the `onAny`
 * listeners first, then the listeners of `name` (wildcard patterns included, in EventEmitter2's
 * order), each called synchronously, with the emitter as `this` and `this.event` set to `name`
 * (EventEmitter2's deferred listeners read it). Returns each listener's result, for the lock's
 * event bus to watch one by one. `emitAsync()` returns one `Promise.all` of them, which rejects
 * with the first failure alone, and a listener that throws ends it, so the listeners after it
 * are not called and the promises already returned are left to reject unhandled.
 *
 * An emitter whose `emitAsync()` is not EventEmitter2's own (a test double standing in for the
 * app's EventEmitter2, a spy, a subclass's override, another copy of the package) gets the event
 * through its `emitAsync()`, as before: the app chose what an emit does there.
 */
export function emitEach(emitter: EventEmitter2, name: string, payload: unknown): ListenerResults {
  if (!callsItsOwnListeners(emitter)) {
    try {
      return new ListenerResults([emitter.emitAsync(name, payload)]);
    } catch (error) {
      return new ListenerResults([Promise.reject(error)]);
    }
  }
  // Not in EventEmitter2's type declarations, but part of its documented listener API.
  const target = emitter as EventEmitter2 & { event?: unknown };
  const results: unknown[] = [];
  const call = (listener: EmitterListener, args: unknown[]): void => {
    target.event = name;
    try {
      results.push(listener.apply(emitter, args));
    } catch (error) {
      results.push(Promise.reject(error));
    }
  };
  // Copies: listeners() hands out the emitter's own array, which a `once` listener shortens as it
  // runs.
  for (const listener of [...emitter.listenersAny()]) {
    call(listener, [name, payload]);
  }
  // Read after the onAny listeners ran, as emitAsync() reads them.
  for (const listener of [...emitter.listeners(name)]) {
    call(listener, [payload]);
  }
  return new ListenerResults(results);
}

/**
 * Whether `emitAsync()` would call the listeners that `listenersAny()` and `listeners()` list,
 * as EventEmitter2's own does: read on every emit, so a spy added after bootstrap is seen.
 */
function callsItsOwnListeners(emitter: EventEmitter2): boolean {
  const api = emitter as Partial<Record<'emitAsync' | 'listeners' | 'listenersAny', unknown>>;
  return (
    api.emitAsync === EventEmitter2.prototype.emitAsync &&
    typeof api.listeners === 'function' &&
    typeof api.listenersAny === 'function'
  );
}
