import type { Cluster, Redis } from 'ioredis';
import { LockStoreError } from '../../cron-lock.errors.js';

/**
 * ioredis' statuses of a client on its way to `ready`: opening a socket, waiting for its ready
 * check's answer, or between two tries of its `retryStrategy` (its server refused or dropped it).
 */
const ON_ITS_WAY = new Set(['connecting', 'connect', 'reconnecting']);

/**
 * When a store's command must first wait (bounded) for its client to be ready, and that wait,
 * shared by every command that arrives meanwhile. Without an offline queue ioredis refuses every
 * command until the client is ready, so a command sent while it connects fails at once.
 *
 * Waited for: the store's own client whenever it is not ready; a client passed in while
 * `lazyConnect` keeps it unconnected (`wait`, connected here); and a client passed in that was
 * not ready yet when the store got it (`new Redis(url, LOCK_CLIENT_DEFAULTS)` built just before
 * the app bootstraps, or one retrying while its server restarts or is not up yet), until it is
 * first seen ready or one wait for it timed out. After that, a client passed in is used exactly
 * as configured: while it reconnects, a command fails at once.
 */
export class ReadyWait {
  private wait: Promise<void> | null = null;
  /** Not ready yet when handed over, and neither seen ready nor waited for since. */
  private starting: boolean;

  /**
   * @param timeout the bound of one wait (the client's `commandTimeout`): an unreachable server
   *   holds up the bootstrap no longer.
   * @param lastError why the last connection attempt failed, for the timeout's message.
   */
  constructor(
    private readonly client: Redis | Cluster,
    private readonly owned: boolean,
    private readonly timeout: number,
    private readonly lastError: () => string | null,
  ) {
    this.starting = !owned && ON_ITS_WAY.has(client.status);
  }

  /** Whether the next command must wait. Checked per command: the ready case costs no microtask. */
  needed(): boolean {
    const status = this.client.status;
    if (status === 'ready') {
      // Seen ready once: a later reconnection of a client passed in is an outage, not its start.
      this.starting = false;
      return false;
    }
    return this.owned || status === 'wait' || (this.starting && ON_ITS_WAY.has(status));
  }

  /** Resolves once the client is ready; rejects after the timeout or at once when it is closed. */
  untilReady(): Promise<void> {
    const client = this.client;
    if (client.status === 'ready') {
      return Promise.resolve();
    }
    if (client.status === 'end') {
      return Promise.reject(new LockStoreError('Redis connection is closed'));
    }
    // One shared wait: 1,000 jobs ticking while it connects must not add 1,000 listeners.
    this.wait ??= new Promise<void>((resolve, reject) => {
      if (client.status === 'wait') {
        // lazyConnect: connect on first use; failures surface as the timeout below.
        client.connect().catch(() => undefined);
      }
      const timer = setTimeout(() => {
        cleanup();
        // The last connection error says why (an untrusted certificate, a wrong password).
        const error = this.lastError();
        const why = error === null ? '' : `: ${error}`;
        reject(new LockStoreError(`Redis not connected (status ${client.status})${why}`));
      }, this.timeout);
      const onReady = (): void => {
        cleanup();
        resolve();
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        client.off('ready', onReady);
        this.wait = null;
        // Waited for once: from now on a client passed in fails fast while it is not ready.
        this.starting = false;
      };
      client.on('ready', onReady);
    });
    return this.wait;
  }
}
