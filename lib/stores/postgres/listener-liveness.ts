import type { PoolClient } from 'pg';
import { watchConnection, type Liveness } from '../../utils/connection-liveness.js';
import { unrefTimer } from '../../utils/unref-timer.js';
import { noAnswerIfTimedOut, timedQuery } from './postgres-connection.js';

export type { Liveness } from '../../utils/connection-liveness.js';

/**
 * Sends `statement` on the listening `client` every `checkInterval(timeout)` (see
 * utils/connection-liveness.ts), each bounded by `timeout` ms, and calls `dead` once with the
 * failure (the store's "no answer within …" for a timeout) when one fails or gets no answer. The
 * channel sends its own `LISTEN` again: a no-op on a session that listens, and the backend still
 * shows `LISTEN …` as its last query to whoever looks for it in `pg_stat_activity`.
 *
 * The check runs on the listening connection itself, so it needs no second connection (a pool of
 * one works) and reaches no other instance, unlike a probe notification, which every listener on
 * the channel receives.
 */
export function watchListener(
  client: PoolClient,
  statement: string,
  timeout: number,
  dead: (error: unknown) => void,
): Liveness {
  return watchConnection(
    () => client.query(timedQuery(statement, undefined, timeout)),
    timeout,
    (error) => dead(noAnswerIfTimedOut(error, timeout)),
  );
}

/** How often a listening connection reads whether the app began ending its pool (one flag). */
const POOL_END_CHECK_MS = 200;

/** Whether `pool.end()` was called on a `pg` pool (its `ending` flag; a pool that lacks one: no). */
export function poolEnding(pool: object): boolean {
  return (pool as { ending?: unknown }).ending === true;
}

/**
 * Calls `ended` once `pool.end()` is called. That call waits for every connection lent out, the
 * listening one included, and an app ends its own pool in its database module's `onModuleDestroy`,
 * which Nest runs before the lock module's shutdown would give the connection back: the app would
 * never close. `pg`'s pool emits nothing when it starts ending, so its flag is read a few times a
 * second (no round trip) while the connection listens. Returns what stops the check.
 */
export function whenPoolEnds(pool: object, ended: () => void): () => void {
  const timer = setInterval(() => {
    if (poolEnding(pool)) {
      clearInterval(timer);
      ended();
    }
  }, POOL_END_CHECK_MS);
  unrefTimer(timer);
  return () => clearInterval(timer);
}
