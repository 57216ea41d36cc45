import type { PoolClient } from 'pg';
import { noAnswerIfTimedOut, timedQuery } from './postgres-connection.js';

/** The longest wait between two checks of a listening connection. */
const MAX_CHECK_INTERVAL_MS = 30_000;

/** Checks run at most once a second, whatever `operationTimeout`. */
const MIN_CHECK_INTERVAL_MS = 1_000;

/**
 * Between two checks of a listening connection: ten times the `timeout` a check may wait for its
 * answer, at most 30 s (20 s with the default `operationTimeout` of 2 s). A dead connection is then
 * noticed within the interval plus `timeout`, and the check is a small share of a slow link's time.
 */
export function checkInterval(timeout: number): number {
  return Math.min(MAX_CHECK_INTERVAL_MS, Math.max(MIN_CHECK_INTERVAL_MS, 10 * timeout));
}

/** The checks of one listening connection, while it listens. */
export interface Liveness {
  /** Ends the checks: a check in flight is ignored, none is sent again. */
  stop(): void;
}

/**
 * Sends `statement` on the listening `client` every {@link checkInterval}, each bounded by `timeout`
 * ms, and calls `dead` once with the failure (the store's "no answer within …" for a timeout) when
 * one fails or gets no answer. The channel sends its own `LISTEN` again: a no-op on a session that
 * listens, and the backend still shows `LISTEN …` as its last query to whoever looks for it in
 * `pg_stat_activity`.
 *
 * A listening connection carries nothing while nobody triggers, so one that a network silently
 * forgot (a partition, a NAT or load balancer dropping an idle flow, a frozen proxy) is never
 * reported broken by TCP: only a round trip tells. The check runs on the listening connection
 * itself, so it needs no second connection (a pool of one works) and reaches no other instance,
 * unlike a probe notification, which every listener on the channel receives. One check is in
 * flight at a time, and the timer is unref'd: it keeps no process alive.
 */
export function watchListener(
  client: PoolClient,
  statement: string,
  timeout: number,
  dead: (error: unknown) => void,
): Liveness {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const schedule = (): void => {
    timer = setTimeout(check, checkInterval(timeout));
    timer.unref();
  };
  const check = (): void => {
    timer = null;
    client.query(timedQuery(statement, undefined, timeout)).then(
      () => {
        if (!stopped) {
          schedule();
        }
      },
      (error: unknown) => {
        if (!stopped) {
          stopped = true;
          dead(noAnswerIfTimedOut(error, timeout));
        }
      },
    );
  };
  schedule();
  return {
    stop: () => {
      stopped = true;
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
    },
  };
}
