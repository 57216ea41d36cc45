import type { PoolClient } from 'pg';
import { watchConnection, type Liveness } from '../../utils/connection-liveness.js';
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
