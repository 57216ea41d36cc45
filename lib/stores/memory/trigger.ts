import { afterThisTurn } from '../../utils/after-this-turn.js';
import type { TriggerChannel, TriggerMessage, TriggerSubscription } from '../trigger.interface.js';

/**
 * The trigger channel of a {@link MemoryLockStore}: the apps of one process that share the
 * store hear each other's triggers, as the instances of a fleet do through Redis. Messages are
 * delivered after the sender's call returns, as from a network, never inside it.
 */
export class MemoryTriggerChannel implements TriggerChannel {
  private readonly listeners = new Set<(message: TriggerMessage) => void>();
  /** Claimed request ids, with when each claim expires (`Date.now()`). */
  private readonly claims = new Map<string, number>();

  async publish(message: TriggerMessage): Promise<number> {
    const listeners = [...this.listeners];
    // A copy per listener, as each instance parses its own from the wire.
    const text = JSON.stringify(message);
    // Not `setImmediate`: fake timers (Vitest's defaults, Jest's) fake it, and a test on this
    // store would wait for the clock it never advances (`trigger()` hung).
    afterThisTurn(() => {
      for (const listener of listeners) {
        try {
          listener(JSON.parse(text) as TriggerMessage);
        } catch {
          // A listener's failure is its own: the others still hear the message.
        }
      }
    });
    return listeners.length;
  }

  async subscribe(listener: (message: TriggerMessage) => void): Promise<TriggerSubscription> {
    this.listeners.add(listener);
    return { close: async () => void this.listeners.delete(listener) };
  }

  async claim(name: string, id: string, _instanceId: string, ttl: number): Promise<boolean> {
    const now = Date.now();
    for (const [key, expiresAt] of this.claims) {
      if (expiresAt <= now) {
        this.claims.delete(key);
      }
    }
    const key = `${name}\n${id}`;
    if (this.claims.has(key)) {
      return false;
    }
    this.claims.set(key, now + ttl);
    return true;
  }
}
