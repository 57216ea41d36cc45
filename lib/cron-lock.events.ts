/** Fields every event carries. */
export interface CronLockEventBase {
  /** The job's lock name. */
  name: string;
  /** The occurrence concerned, if the run is tied to one. */
  scheduledAt: Date | null;
  /** This instance. */
  instanceId: string;
}

/** Why a run did not happen. */
export type SkipReason = 'held' | 'tick-done' | 'store-error' | 'shutting-down';

/**
 * Payload of each event of {@link CronLockService}, by event name.
 *
 * @publicApi
 */
export interface CronLockEvents {
  /** The lock was taken; the job is about to start. */
  acquired: CronLockEventBase & { fencingToken: number; ownerTag: string; acquireMs: number };
  /** The run did not happen on this instance, and why. */
  skipped: CronLockEventBase & { reason: SkipReason };
  /** The lock was extended. */
  renewed: CronLockEventBase & { fencingToken: number; ttl: number };
  /** The lock is no longer ours while the job runs; `ctx.signal` was aborted. */
  lost: CronLockEventBase & { fencingToken: number; reason: 'expired' | 'taken' | 'unconfirmed' };
  /** The lock was freed (or left to its `minHold`). `released` is false if it was no longer ours. */
  released: CronLockEventBase & { fencingToken: number; released: boolean };
  /** The job returned. */
  completed: CronLockEventBase & { fencingToken: number; durationMs: number };
  /** The job threw. */
  failed: CronLockEventBase & { fencingToken: number | null; durationMs: number; error: unknown };
  /** The store failed during `operation`; `message` is redacted. */
  'store-error': CronLockEventBase & {
    operation: 'acquire' | 'renew' | 'release';
    message: string;
  };
}

/** Names of {@link CronLockEvents}. */
export type CronLockEventName = keyof CronLockEvents;

/** A listener of one event. */
export type CronLockListener<E extends CronLockEventName> = (payload: CronLockEvents[E]) => void;

/**
 * A small typed emitter. Listener errors are caught and reported through `onListenerError`:
 * a failing metrics hook must never break a lock's acquire/renew/release sequence.
 */
export class CronLockEventBus {
  private readonly listeners = new Map<CronLockEventName, Set<CronLockListener<never>>>();

  constructor(private readonly onListenerError: (event: string, error: unknown) => void) {}

  on<E extends CronLockEventName>(event: E, listener: CronLockListener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as CronLockListener<never>);
    return () => this.off(event, listener);
  }

  off<E extends CronLockEventName>(event: E, listener: CronLockListener<E>): void {
    this.listeners.get(event)?.delete(listener as CronLockListener<never>);
  }

  /** Whether anyone listens to `event`: lets callers skip building a payload nobody reads. */
  has(event: CronLockEventName): boolean {
    return (this.listeners.get(event)?.size ?? 0) > 0;
  }

  emit<E extends CronLockEventName>(event: E, payload: CronLockEvents[E]): void {
    const set = this.listeners.get(event);
    if (!set) {
      return;
    }
    for (const listener of [...set]) {
      try {
        (listener as CronLockListener<E>)(payload);
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
  }

  removeAll(): void {
    this.listeners.clear();
  }
}
