import { connect, type Socket } from 'node:net';

/** The protocol's CancelRequest code (1234 in the high 16 bits, 5678 in the low). */
const CANCEL_REQUEST_CODE = 80_877_102;

/** What a `pg` client knows of its connection once connected: enough to cancel its statement. */
interface CancelTarget {
  readonly processID?: unknown;
  readonly secretKey?: unknown;
  readonly host?: unknown;
  readonly port?: unknown;
}

/**
 * Asks the server to stop the statement running on `client`'s connection, as `psql`'s Ctrl-C
 * does: a CancelRequest (the backend's process id and secret key, no login) on a connection of
 * its own, through whatever the client connected to, a pooler included.
 *
 * Why: a connection given up on is destroyed, but PostgreSQL notices a closed connection only when
 * it next talks to it. A statement waiting for a row another session keeps locked would wait on,
 * one server process each, for as long as that lock is held: every retry (the runner's renewals,
 * its releases of an unanswered acquire) one more, until `max_connections` refuses the whole app;
 * and once the row came free it would still run (an acquire taking a lock nobody holds).
 *
 * Resolves once the request was handed over (the server closes the connection after reading it),
 * or could not be, never rejects: the caller destroys `client`'s connection only then, since a
 * pooler (PgBouncer) forwards a cancel only for a client still connected to it. Best effort: a
 * server that cannot be reached (a network cut) gets no cancel, and its statement is then what a
 * lost reply already is to the callers. Bounded by `timeout`; keeps no process alive. A client
 * that lacks the key (not `pg`'s JavaScript client) is left alone.
 */
export function cancelStatement(client: object, timeout: number): Promise<void> {
  const { processID, secretKey, host, port } = client as CancelTarget;
  if (
    !Number.isInteger(processID) ||
    !Number.isInteger(secretKey) ||
    typeof host !== 'string' ||
    host === '' ||
    !Number.isInteger(port)
  ) {
    return Promise.resolve();
  }
  const request = Buffer.alloc(16);
  request.writeInt32BE(16, 0);
  request.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  request.writeInt32BE(processID as number, 8);
  request.writeInt32BE(secretKey as number, 12);
  // A host that is a directory is a Unix socket's, named as libpq and `pg` name it.
  const socket: Socket = host.startsWith('/')
    ? connect(`${host}/.s.PGSQL.${port as number}`)
    : connect(port as number, host);
  socket.unref();
  socket.setTimeout(timeout, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  // Written, not ended: the server (or pooler) closes once it has read it, as libpq waits for;
  // PgBouncer 1.18 exits when the requesting side half-closes first.
  socket.once('connect', () => socket.write(request));
  return new Promise((resolve) => socket.once('close', () => resolve()));
}
