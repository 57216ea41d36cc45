import type { EventEmitter } from 'node:events';
import type { Pool, PoolClient } from 'pg';

/** What each store on a pool is told of its idle connections' errors. */
type Report = (error: unknown) => void;

/** The listeners the stores on one pool share, whatever their number, and who they report to. */
interface PoolWatch {
  readonly reports: Set<{ report: Report }>;
  stop(): void;
}

const watches = new WeakMap<object, PoolWatch>();
/** The stores' `error` listeners on pools: any other listener of a pool is the app's own. */
const storeListeners = new WeakSet<object>();
/** Connections that erred while lent, and their first error. */
const lentErrors = new WeakMap<object, unknown>();

/**
 * The store's listeners on a `pg` pool, its own or one passed in; returns what stops them, for the
 * store's `close()`. The stores on one pool share one listener per event: a dozen stores on an
 * app's pool would otherwise pass Node's warning limit of ten listeners on the pool and on each
 * connection it lends.
 *
 * - **Idle connections' errors.** Every statement leaves an idle connection in the pool, which
 *   errs when the server restarts or ends it; `pg` emits that on the pool, and an `error` event
 *   nobody hears is thrown from the socket: the process ends, printing the client's settings,
 *   password included. `report` is called only while the app has no listener of its own there
 *   (the app's then decides).
 * - **Connections being lent, from the moment the pool lends one until its borrower can listen.**
 *   `pg`'s pool takes its own listener off a connection as it lends it and hands it over in a
 *   promise, so the borrower listens from a later microtask at the earliest. The pool lends from
 *   inside `pg`'s handling of a reply (a new connection's first ReadyForQuery; an idle one given
 *   back from an app's `pool.query` callback), and `pg` goes on reading the same chunk: when it
 *   also holds the server's next message, an error ending the session (a shutdown's `57P01`, a
 *   `pg_terminate_backend`), `pg` emits it on a connection nobody listens to, and the process
 *   ends. The pool does not say for whom it lends a connection, so each is heard until the first
 *   of: another `error` listener on it (the borrower's own, as the store's lease adds), the
 *   microtask after it was lent (queued before the borrower's continuation, no I/O between them;
 *   not with the pool's `verify` option, which hands the connection over only once its check
 *   ends), or its return to the pool. The store's lease fails with an error heard meanwhile and
 *   destroys the connection (connectWithin, errorWhileLent); to the app, `pg` has already failed
 *   the connection, so its next statement is refused and the pool discards it. Past that, a
 *   connection the app holds is the app's to listen to, as `pg` documents.
 */
export function watchPool(pool: Pool, report: Report): () => void {
  if (typeof pool.on !== 'function' || typeof pool.off !== 'function') {
    return () => undefined;
  }
  const watch = watches.get(pool) ?? startWatch(pool);
  const entry = { report };
  watch.reports.add(entry);
  return () => {
    if (watch.reports.delete(entry) && watch.reports.size === 0) {
      watch.stop();
      watches.delete(pool);
    }
  };
}

/** The error `client` met while lent out before its borrower listened, if any. */
export function errorWhileLent(client: object): unknown {
  return lentErrors.get(client);
}

function startWatch(pool: Pool): PoolWatch {
  const reports = new Set<{ report: Report }>();
  const onError = (error: unknown): void => {
    if (pool.listeners('error').every((other) => storeListeners.has(other))) {
      for (const { report } of [...reports]) report(error);
    }
  };
  /** Connections being lent now, and what takes the listener off each (see {@link watchPool}). */
  const lending = new Map<PoolClient, () => void>();
  const handsOverLater = (): boolean =>
    typeof (pool as { options?: { verify?: unknown } }).options?.verify === 'function';
  const onAcquire = (client: PoolClient): void => {
    if (lending.has(client)) {
      return;
    }
    const guard = (error: unknown): void => {
      if (!lentErrors.has(client)) lentErrors.set(client, error);
    };
    const onListener = (event: string | symbol): void => {
      if (event === 'error') stopGuard();
    };
    const stopGuard = (): void => {
      if (lending.get(client) === stopGuard) {
        lending.delete(client);
        client.off('error', guard);
        (client as unknown as EventEmitter).off('newListener', onListener);
      }
    };
    client.on('error', guard);
    // `pg`'s types name only its own events: every emitter has this one.
    (client as unknown as EventEmitter).on('newListener', onListener);
    lending.set(client, stopGuard);
    if (!handsOverLater()) {
      queueMicrotask(stopGuard);
    }
  };
  const onRelease = (_error: unknown, client: PoolClient): void => {
    lending.get(client)?.();
  };
  storeListeners.add(onError);
  pool.on('error', onError);
  pool.on('acquire', onAcquire);
  pool.on('release', onRelease);
  const watch: PoolWatch = {
    reports,
    stop: () => {
      pool.off('error', onError);
      pool.off('acquire', onAcquire);
      pool.off('release', onRelease);
      for (const stopGuard of [...lending.values()]) stopGuard();
    },
  };
  watches.set(pool, watch);
  return watch;
}
