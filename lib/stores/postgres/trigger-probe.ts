import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import {
  isNoConnection,
  runStatement,
  timeLeft,
  type PostgresPool,
} from './postgres-connection.js';

/**
 * How a check of a listening connection ended: `'no-connection'` when the pool lent no second
 * connection to send from in time (nothing was checked), `'stopped'` when it was stopped.
 */
export type ProbeOutcome = 'heard' | 'unheard' | 'no-connection' | 'stopped';

/** A check in flight. */
export interface Probe {
  /** Rejects only when the probe could not be sent (a server error, a broken connection). */
  readonly outcome: Promise<ProbeOutcome>;
  /** Ends the check at once with `'stopped'`: the listening connection is being closed. */
  stop(): void;
}

/**
 * Whether `pool` can lend a connection besides the listening one: a `pg` pool says its `max`
 * (another kind of pool is taken to be able to).
 */
export function canLendSecond(pool: PostgresPool): boolean {
  const max = (pool as { options?: { max?: unknown } }).options?.max;
  return typeof max !== 'number' || max >= 2;
}

/**
 * Checks end to end that `listener`, which has just run `LISTEN channel`, hears the channel: one
 * `pg_notify` sent from another pooled connection, awaited on `listener`, all within the budget
 * of `timeout` ms begun at `started`. A pooler in transaction mode answers the `LISTEN` and then
 * gives its server connection to other clients: nothing sent on the channel reaches `listener`,
 * and only such a check tells.
 *
 * The payload is no trigger message (`parseTriggerMessage` rejects it), so every other instance
 * listening on the channel drops it without a word.
 */
export function probeListening(
  pool: PostgresPool,
  listener: PoolClient,
  channel: string,
  started: number,
  timeout: number,
): Probe {
  const payload = JSON.stringify({ kind: 'probe', id: randomUUID() });
  let finish!: (result: { outcome: ProbeOutcome } | { error: unknown }) => void;
  const outcome = new Promise<ProbeOutcome>((resolve, reject) => {
    let done = false;
    finish = (result) => {
      if (done) {
        return;
      }
      done = true;
      clearTimeout(timer);
      listener.off('notification', onNotification);
      if ('error' in result) {
        reject(result.error);
      } else {
        resolve(result.outcome);
      }
    };
  });
  const onNotification = (notification: { channel: string; payload?: string }): void => {
    if (notification.channel === channel && notification.payload === payload) {
      finish({ outcome: 'heard' });
    }
  };
  listener.on('notification', onNotification);
  let sent = false;
  const budget = timeLeft(started, timeout);
  // A probe still being sent at the deadline is waited for (its own bound is the same): only its
  // end tells a pool that lent no connection from a connection that hears nothing.
  const timer = setTimeout(() => {
    if (sent) {
      finish({ outcome: 'unheard' });
    }
  }, budget);
  runStatement(pool, 'SELECT pg_notify($1, $2)', [channel, payload], budget).then(
    () => {
      sent = true;
      if (performance.now() - started >= timeout) {
        finish({ outcome: 'unheard' });
      }
    },
    (error: unknown) => {
      finish(isNoConnection(error) ? { outcome: 'no-connection' } : { error });
    },
  );
  return { outcome, stop: () => finish({ outcome: 'stopped' }) };
}
