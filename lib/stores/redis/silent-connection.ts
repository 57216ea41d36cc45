import type { Cluster, Redis } from 'ioredis';
import type { CronLockLogger } from '../../observer/logger.js';
import { COMMAND_TIMED_OUT } from './ioredis/command-deadline.js';
import { isClusterClient } from './redis-connection.js';

function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === COMMAND_TIMED_OUT;
}

/**
 * Drops the lock client's connection once it has gone silent, so that ioredis connects again.
 *
 * A connection a network silently forgot (a NAT or load balancer dropping the flow, a frozen
 * proxy: no reset ever arrives) fails every command with `Command timed out`, but ioredis only
 * reconnects when the socket closes, and TCP gives up on its retransmissions many minutes later:
 * every tick is skipped for that long while a new connection would work at once.
 *
 * Nothing is done per command: a check starts when a store command failed with a timeout. It
 * sends one `PING`, bounded by the client's own `commandTimeout`; when that times out too and not
 * one byte was read on the connection meanwhile, the connection is dropped with
 * `disconnect(true)` (ioredis destroys the socket after its `disconnectTimeout` and connects
 * again), logged once per outage. Bytes read mean a slow server or a long reply, not a dead
 * link, and any other answer (an error reply, a closed connection) is no silence. One check at a
 * time, whatever the number of commands that time out together.
 *
 * Also for a client passed in: its own commands are stuck on that connection as well, and
 * ioredis would keep it for as long. Not on a `Cluster`, whose commands go to one connection per
 * node.
 */
export class SilentConnectionCheck {
  private checking = false;
  private stopped = false;
  /** The connection was dropped and no new one is ready yet (reported once). */
  private lost = false;
  private readonly timeout: number | undefined;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly log: CronLockLogger,
  ) {
    this.timeout = isClusterClient(client) ? undefined : client.options.commandTimeout;
  }

  /** Called with the error of a failed store command: checks the connection after a timeout. */
  failed(error: unknown): void {
    const client = this.client;
    if (this.checking || this.stopped || !isTimeout(error) || isClusterClient(client)) {
      return;
    }
    const stream = client.stream;
    if (client.status !== 'ready' || stream === undefined || this.timeout === undefined) {
      return;
    }
    this.checking = true;
    const read = stream.bytesRead;
    client.ping().then(
      () => {
        this.checking = false;
      },
      (failure: unknown) => {
        this.checking = false;
        const silent =
          isTimeout(failure) &&
          !this.stopped &&
          client.stream === stream &&
          stream.bytesRead === read &&
          client.status === 'ready';
        if (silent) {
          this.drop(client);
        }
      },
    );
  }

  /** Ends the checks (the store closes): a check in flight drops nothing. */
  stop(): void {
    this.stopped = true;
    if (this.lost) {
      this.client.off('ready', this.recovered);
    }
  }

  private drop(client: Redis): void {
    if (!this.lost) {
      this.lost = true;
      this.log.warn(
        `Redis connection lost: no answer from Redis within ${this.timeout}ms to a command ` +
          'nor to a PING after it; connecting again',
      );
      client.once('ready', this.recovered);
    }
    client.disconnect(true);
  }

  private readonly recovered = (): void => {
    this.lost = false;
  };
}
