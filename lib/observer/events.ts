import { CronLockConfigError } from '../cron-lock.errors.js';
import type { LossReason } from '../stores/lock-store.interface.js';
import { didYouMean } from '../utils/did-you-mean.js';
import { LISTENER_NOT_FUNCTION, UNKNOWN_EVENT } from './observer.messages.js';

/** Fields every event carries. */
export interface CronLockEventBase {
  /** The job's lock name. */
  name: string;
  /** The occurrence concerned, if the run is tied to one. */
  scheduledAt: Date | null;
  /** This instance. */
  instanceId: string;
}

/**
 * Payload of the `alert` event. Narrow it with `switch (alert.kind)`:
 * - `missed-success`: no run of the job succeeded anywhere in the fleet for `missedPeriods`
 *   occurrences in a row (`lastSuccessAt` is `null` if no success is known);
 * - `store-failures`: this instance's acquisitions of the job failed with a store error
 *   `consecutiveFailures` times in a row (`error` is redacted);
 * - `lost`: a run lost its lock (`ctx.signal` was aborted).
 *
 * @publicApi
 */
export type CronLockAlert = CronLockEventBase & {
  /** A readable one-line description, the same text as the error log line. */
  message: string;
} & (
    | {
        kind: 'missed-success';
        /** The last successful run's end, across the fleet; `null` if none is known. */
        lastSuccessAt: Date | null;
        /** The job's period in ms (from its cron expression or interval). */
        periodMs: number;
        /** Occurrences in a row that went by without a success. */
        missedPeriods: number;
        /** The `alerts.missedPeriods` threshold. */
        threshold: number;
      }
    | {
        kind: 'store-failures';
        /** Acquisitions in a row that failed on this instance. */
        consecutiveFailures: number;
        /** The `alerts.storeFailures` threshold. */
        threshold: number;
        /** The last store error (redacted). */
        error: string;
      }
    | {
        kind: 'lost';
        /** The fencing token of the run that lost its lock. */
        fencingToken: number;
        /** Why: the lock expired, another instance took it, or renewal was not confirmed. */
        reason: LossReason;
      }
  );

/**
 * Why a run did not happen. With `overlap: 'queue' | 'replace'`: `queued` (it runs once the
 * running one releases), `merged` (into the occurrence queued already; it does not run).
 */
export type SkipReason =
  'held' | 'tick-done' | 'paused' | 'store-error' | 'shutting-down' | 'queued' | 'merged';

/**
 * Every {@link SkipReason}, for the metrics' zero series and help text. Written as a record: a
 * reason added to the type and not here is a type error.
 */
export const SKIP_REASONS = Object.keys({
  held: true,
  'tick-done': true,
  paused: true,
  'store-error': true,
  'shutting-down': true,
  queued: true,
  merged: true,
} satisfies Record<SkipReason, true>) as readonly SkipReason[];

/**
 * Why an occurrence ran nowhere, when known: this instance skipped it (`held`, `store-error`,
 * `shutting-down`), it lies outside `catchUpWindow` (`outside-window`), or `catchUp` ran a later
 * one instead (`superseded`: `'latest'`, or past the cap of `'all'`).
 */
export type MissedReason =
  'held' | 'store-error' | 'shutting-down' | 'outside-window' | 'superseded';

/**
 * Payload of each event of {@link CronLockService}, by event name.
 *
 * @publicApi
 */
export interface CronLockEvents {
  /** The lock was taken; the job is about to start. */
  acquired: CronLockEventBase & { fencingToken: number; ownerTag: string; acquireMs: number };
  /** The run did not happen on this instance, and why. */
  skipped: CronLockEventBase & {
    reason: SkipReason;
    /**
     * The store's round trip, in ms, when the store answered the acquisition: every refusal
     * (`held`, `tick-done`, `paused`, `queued`, `merged`), and `shutting-down` when the answer came
     * during shutdown; never for `store-error`.
     */
    acquireMs?: number;
  };
  /**
   * An occurrence ran on no instance. Reported once fleet-wide, by the instance that claimed the
   * next occurrence; `reason` is `null` when unknown (e.g. no instance was running).
   */
  missed: CronLockEventBase & { scheduledAt: Date; reason: MissedReason | null };
  /** The lock was extended. */
  renewed: CronLockEventBase & { fencingToken: number; ttl: number };
  /** The lock is no longer ours while the job runs; `ctx.signal` was aborted. */
  lost: CronLockEventBase & { fencingToken: number; reason: LossReason };
  /** The lock was freed (or left to its `minHold`). `released` is false if it was no longer ours. */
  released: CronLockEventBase & { fencingToken: number; released: boolean };
  /** The job returned. */
  completed: CronLockEventBase & { fencingToken: number; durationMs: number };
  /** The job threw. */
  failed: CronLockEventBase & { fencingToken: number | null; durationMs: number; error: unknown };
  /**
   * Something needs a human: a job without a success for `alerts.missedPeriods` periods, the
   * store failing `alerts.storeFailures` acquisitions in a row, or a run that lost its lock.
   * Once per episode per job on each instance that sees it; also logged at error level.
   */
  alert: CronLockAlert;
  /**
   * This instance took a request of `CronLockService.trigger()` (from any instance or the CLI)
   * and is about to run the job through its lock (`forced`: even while paused).
   */
  triggered: CronLockEventBase & { requestId: string; forced: boolean };
  /**
   * This instance paused the job fleet-wide (`CronLockService.pause`). `scheduledAt` is `null`;
   * `until` is when the pause ends by itself, `null` until resumed.
   */
  paused: CronLockEventBase & { reason: string | null; until: Date | null };
  /** This instance resumed a paused job (`CronLockService.resume`); `scheduledAt` is `null`. */
  resumed: CronLockEventBase & { wasPaused: boolean };
  /** The store failed during `operation`; `message` is redacted. */
  'store-error': CronLockEventBase & {
    operation: 'acquire' | 'renew' | 'release';
    message: string;
  };
}

/** Names of {@link CronLockEvents}. */
export type CronLockEventName = keyof CronLockEvents;

/**
 * Every {@link CronLockEventName}, for the integrations that check what listens to them. Written
 * as a record: an event added to the interface and not here is a type error.
 */
export const CRON_LOCK_EVENT_NAMES = Object.keys({
  acquired: true,
  skipped: true,
  missed: true,
  renewed: true,
  lost: true,
  released: true,
  completed: true,
  failed: true,
  alert: true,
  triggered: true,
  paused: true,
  resumed: true,
  'store-error': true,
} satisfies Record<CronLockEventName, true>) as readonly CronLockEventName[];

/**
 * Checks the arguments of `CronLockService.on()` / `off()` (`event` given) or `onAny()` (`event`
 * omitted), before anything is added. A listener that is not a function would fail on every
 * event, one error line each, and a misspelt event would never be heard: both are refused at the
 * call, with a {@link CronLockConfigError} naming it and the fix.
 */
export function checkSubscription(
  method: 'on' | 'off' | 'onAny',
  listener: unknown,
  ...event: [] | [unknown]
): void {
  const call = `CronLockService.${method}`;
  if (event.length === 1) {
    const [name] = event;
    if (!(CRON_LOCK_EVENT_NAMES as readonly unknown[]).includes(name)) {
      const suggestion =
        typeof name === 'string' ? didYouMean(name, CRON_LOCK_EVENT_NAMES) : undefined;
      throw new CronLockConfigError(UNKNOWN_EVENT(call, name, suggestion, CRON_LOCK_EVENT_NAMES));
    }
  }
  if (typeof listener !== 'function') {
    const example =
      method === 'onAny'
        ? 'locks.onAny(({ event, payload }) => …)'
        : `locks.${method}('${String(event[0])}', (payload) => …)`;
    throw new CronLockConfigError(LISTENER_NOT_FUNCTION(call, listener, example));
  }
}

/**
 * A listener of one event. It may be `async`: a promise it returns that rejects is logged like
 * an error it throws, and affects the run no more.
 */
export type CronLockListener<E extends CronLockEventName> = (payload: CronLockEvents[E]) => void;

/**
 * One event of {@link CronLockEvents} with its name: narrow the payload with `switch (e.event)`.
 */
export type CronLockAnyEvent = {
  [E in CronLockEventName]: { event: E; payload: CronLockEvents[E] };
}[CronLockEventName];

/** A listener of every event, including events added in later versions (may be `async`). */
export type CronLockAnyListener = (event: CronLockAnyEvent) => void;

/**
 * What a listener returns when it calls listeners of its own (the `@nestjs/event-emitter`
 * forwarder calls the app's handlers): the bus watches each result as it watches a listener's, so
 * every one that fails is reported, when it fails. One promise of them all (`Promise.all`) would
 * carry the first failure only.
 *
 * @internal
 */
export class ListenerResults {
  constructor(readonly results: readonly unknown[]) {}
}

/**
 * A small typed emitter. Listener errors are caught and reported through `onListenerError`:
 * a failing metrics hook must never break a lock's acquire/renew/release sequence. So are the
 * rejections of async listeners: left unhandled, one ends the process (Node's default), in the
 * middle of a run and with its lock held.
 */
export class CronLockEventBus {
  private readonly listeners = new Map<CronLockEventName, Set<CronLockListener<never>>>();
  /** Listeners of every event (integrations that forward all events, e.g. to an event bus). */
  private readonly anyListeners = new Set<CronLockAnyListener>();

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

  /** Listens to every event; returns a function that stops listening. */
  onAny(listener: CronLockAnyListener): () => void {
    this.anyListeners.add(listener);
    return () => this.anyListeners.delete(listener);
  }

  /** Whether anyone listens to `event`: lets callers skip building a payload nobody reads. */
  has(event: CronLockEventName): boolean {
    return this.anyListeners.size > 0 || (this.listeners.get(event)?.size ?? 0) > 0;
  }

  emit<E extends CronLockEventName>(event: E, payload: CronLockEvents[E]): void {
    const set = this.listeners.get(event);
    if (set) {
      for (const listener of [...set]) {
        try {
          this.watch(event, (listener as CronLockListener<E>)(payload));
        } catch (error) {
          this.report(event, error);
        }
      }
    }
    if (this.anyListeners.size === 0) {
      return;
    }
    const named = { event, payload } as CronLockAnyEvent;
    for (const listener of [...this.anyListeners]) {
      try {
        this.watch(event, listener(named));
      } catch (error) {
        this.report(event, error);
      }
    }
  }

  /** Reports a rejection of what a listener returned, if it returned a promise (or several). */
  private watch(event: CronLockEventName, returned: unknown): void {
    if (returned instanceof ListenerResults) {
      for (const result of returned.results) {
        // A thenable whose then() throws fails alone, not the results after it.
        try {
          this.watch(event, result);
        } catch (error) {
          this.report(event, error);
        }
      }
    } else if (
      returned !== undefined &&
      typeof (returned as PromiseLike<unknown>)?.then === 'function'
    ) {
      (returned as PromiseLike<unknown>).then(undefined, (error: unknown) =>
        this.report(event, error),
      );
    }
  }

  /**
   * Hands a listener's failure to `onListenerError`. Should the report itself throw, that error is
   * dropped: it would otherwise fail the run that emitted the event, or, from a rejected promise,
   * become an unhandled rejection that ends the process.
   */
  private report(event: CronLockEventName, error: unknown): void {
    try {
      this.onListenerError(event, error);
    } catch {
      // Nothing is left to report it to.
    }
  }

  removeAll(): void {
    this.listeners.clear();
    this.anyListeners.clear();
  }
}
