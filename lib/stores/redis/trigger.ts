import type { Cluster, Redis } from 'ioredis';
import type { CronLockLogger } from '../../observer/logger.js';
import { watchConnection, type Liveness } from '../../utils/connection-liveness.js';
import { withTimeout } from '../../utils/with-timeout.js';
import { unrefTimer } from '../../utils/unref-timer.js';
import {
  clientKeyPrefix,
  connectionOptionsOf,
  isClusterClient,
  LOCK_CLIENT_DEFAULTS,
} from './redis-connection.js';
import {
  parseTriggerMessage,
  subscribeListener,
  type TriggerChannel,
  type TriggerMessage,
  type TriggerSubscription,
} from '../trigger.interface.js';

/** How often a refused resubscription is tried again while the connection is up. */
const RESUBSCRIBE_RETRY_MS = 2_000;

/**
 * How long close() waits for the subscriber's `QUIT` to be answered before dropping the
 * connection: the subscriber has no command timeout, so a Redis that stops answering (a
 * partition, a frozen server) would otherwise hold `app.close()` forever. The same as the lock
 * client's command timeout, so a close takes no longer for the subscriber than for that client.
 */
const QUIT_LIMIT_MS = 2_000;

/**
 * The subscriber's states in which a check is sent: connected (listening), or connected but still
 * in its handshake, which a half-open flow would also hold for good. While ioredis is connecting
 * or waiting to reconnect, it is already dealing with the connection.
 */
const CHECKED_STATUSES: ReadonlySet<string> = new Set(['ready', 'connect']);

/** What the channel uses of its store: its error mapping and its wait for the connection. */
interface StoreGuard {
  fail: (error: unknown) => never;
  guard: <T>(command: () => Promise<T>) => Promise<T>;
}

/**
 * The trigger channel of one key prefix on Redis: `PUBLISH <prefix>:triggers` to send, one
 * subscriber connection per store to listen, and a `SET NX PX` claim per request. `<prefix>` is
 * the client's own ioredis `keyPrefix` followed by the store's, as for every key.
 *
 * One channel per prefix, not per job: an instance listens with one `SUBSCRIBE` whatever its
 * jobs, and an idle fleet sends no trigger traffic (no polling; each instance checks its own
 * subscriber connection with a `PING`, see watch()). Plain (not sharded) pub/sub: on a Cluster,
 * `PUBLISH` reaches the subscribers of every node.
 */
export class RedisTriggerChannel implements TriggerChannel {
  private subscriber: Redis | Cluster | null = null;
  private subscribed: Promise<void> | null = null;
  private readonly listeners = new Set<(message: TriggerMessage) => void>();
  private reportedError = false;
  /** A resubscription was refused and not yet accepted (reported once). */
  private refused = false;
  /** The checks of the subscriber connection (not on a Cluster, see watch()). */
  private liveness: Liveness | null = null;
  /** A check went unanswered and no subscription was answered since (reported once). */
  private lost = false;
  /** How long a check waits for its answer: the lock client's command timeout. */
  private readonly checkTimeout: number;
  private readonly channel: string;

  private readonly fail: (error: unknown) => never;
  private readonly guard: StoreGuard['guard'];

  /**
   * @param store `fail` turns a Redis error into the store's `LockStoreError`, with no secret in
   *   it; `guard` runs a command once the client is connected, as the store's own commands are (a
   *   client the store created connects on its first command), mapping its error with `fail`.
   */
  constructor(
    private readonly client: Redis | Cluster,
    private readonly keyPrefix: string,
    private readonly log: CronLockLogger,
    store: StoreGuard,
  ) {
    this.fail = store.fail;
    this.guard = store.guard;
    // ioredis prefixes the claim's key with the client's own keyPrefix, never a channel: written
    // out here, so the channel is the one of the keys (and of the CLI and ACL rule given them).
    this.channel = `${clientKeyPrefix(client)}${keyPrefix}:triggers`;
    this.checkTimeout =
      connectionOptionsOf(client)?.commandTimeout ?? LOCK_CLIENT_DEFAULTS.commandTimeout!;
  }

  /** Receivers of `message`, the sender's own listener included; `null` on a Cluster. */
  async publish(message: TriggerMessage): Promise<number | null> {
    const connections = await this.guard(() =>
      this.client.publish(this.channel, JSON.stringify(message)),
    );
    // A Cluster node answers with its own subscribers only: no count of the fleet's.
    if (isClusterClient(this.client)) {
      return null;
    }
    // PUBLISH counts connections, and this store's one connection serves every app of the
    // process that shares the store: counted once, another app's listener on it would look like
    // the sender's own, and trigger() would answer `no-live-instance` without asking it. Counting
    // it when it is not subscribed (reconnecting) only makes trigger() wait for its timeout.
    return this.listeners.size > 1 ? connections + this.listeners.size - 1 : connections;
  }

  /**
   * `SET <prefix>:{<name>}:trigger:<id> <instanceId> NX PX ttl`: in the job's hash slot, and
   * with an expiry, as every key of the module.
   */
  async claim(name: string, id: string, instanceId: string, ttl: number): Promise<boolean> {
    const key = `${this.keyPrefix}:{${name}}:trigger:${id}`;
    const answer = await this.guard(() => this.client.set(key, instanceId, 'PX', ttl, 'NX'));
    return answer === 'OK';
  }

  /** Listens through one subscriber connection, closed with the last listener. */
  subscribe(listener: (message: TriggerMessage) => void): Promise<TriggerSubscription> {
    const channel = { open: () => this.connect(), close: () => this.close() };
    return subscribeListener(this.listeners, listener, channel, this.fail);
  }

  private describeError(error: unknown): string {
    try {
      return this.fail(error);
    } catch (failure) {
      return failure instanceof Error ? failure.message : 'unknown error';
    }
  }

  /** Closes the subscriber connection (created again by the next subscribe). */
  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = null;
    this.subscribed = null;
    this.refused = false;
    this.lost = false;
    this.liveness?.stop();
    this.liveness = null;
    if (subscriber === null || subscriber.status === 'end') {
      return;
    }
    // A SUBSCRIBE still waiting in the offline queue fails with the connection: its caller has
    // a rejection handler (see connect). Unanswered or refused, the connection is dropped.
    if (subscriber.status !== 'ready') {
      // Not ready (in its handshake, or waiting to reconnect), a QUIT would wait in the offline
      // queue behind the handshake: a server that never answered it would hold the close another
      // QUIT_LIMIT_MS, after the dispatcher already waited as long for the subscription.
      subscriber.disconnect();
      return;
    }
    try {
      await withTimeout(subscriber.quit(), QUIT_LIMIT_MS, 'QUIT unanswered');
    } catch {
      subscriber.disconnect();
    }
  }

  /**
   * Subscribes again after a reconnect. A refusal is logged once and tried again every
   * {@link RESUBSCRIBE_RETRY_MS} while the connection is up (a permission restored takes effect
   * without a restart); one that comes after the channel was closed is nobody's concern.
   */
  private resubscribe(subscriber: Redis): void {
    subscriber.subscribe(this.channel).then(
      () => {
        this.lost = false;
        if (this.refused) {
          this.refused = false;
          this.log.info('Trigger channel listening again');
        }
      },
      (error: unknown) => {
        if (this.subscriber !== subscriber) {
          return;
        }
        if (!this.refused) {
          this.refused = true;
          this.log.warn(
            `Trigger channel subscription refused, trying again every ${RESUBSCRIBE_RETRY_MS}ms: ` +
              this.describeError(error),
          );
        }
        unrefTimer(
          setTimeout(() => {
            if (this.subscriber === subscriber && subscriber.status === 'ready') {
              this.resubscribe(subscriber);
            }
          }, RESUBSCRIBE_RETRY_MS),
        );
      },
    );
  }

  /**
   * The subscriber connection, created on first use: a copy of the lock client's settings, but
   * with an offline queue and no command timeout, so that a `SUBSCRIBE` sent while Redis is away
   * waits for it instead of failing, and it subscribes again after every reconnect (see resubscribe).
   */
  private connect(): Promise<void> {
    if (this.subscribed !== null) {
      return this.subscribed;
    }
    // No command timeout: a SUBSCRIBE waiting for Redis to come back must not fail meanwhile.
    const client = this.client;
    const subscriber = isClusterClient(client)
      ? client.duplicate(undefined, {
          enableOfflineQueue: true,
          lazyConnect: false,
          redisOptions: { ...client.options.redisOptions, commandTimeout: undefined },
        })
      : client.duplicate({
          enableOfflineQueue: true,
          lazyConnect: false,
          // Subscribed again by resubscribe(), not by ioredis: its own SUBSCRIBE after a
          // reconnect leaves its promise unhandled, so a refusal (NOPERM) or a close before
          // the reply would end the process.
          autoResubscribe: false,
          commandTimeout: undefined,
        });
    this.subscriber = subscriber;
    // Without a listener ioredis prints raw errors, which may carry the connection options.
    subscriber.on('error', (error: unknown) => {
      if (!this.reportedError) {
        this.reportedError = true;
        this.log.warn(`Trigger channel connection error: ${this.describeError(error)}`);
      }
    });
    // Set once the first SUBSCRIBE is answered: until then ioredis sends (or resends) that one.
    let listening = false;
    subscriber.on('ready', () => {
      this.reportedError = false;
      if (listening && !isClusterClient(subscriber)) {
        this.resubscribe(subscriber);
      }
    });
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) {
        return;
      }
      const message = parseTriggerMessage(text);
      if (message === null) {
        return;
      }
      for (const listener of [...this.listeners]) {
        try {
          listener(message);
        } catch {
          // A listener's failure is its own: the others still hear the message.
        }
      }
    });
    const subscribed = subscriber.subscribe(this.channel).then(() => {
      listening = true;
      if (!isClusterClient(subscriber) && this.subscriber === subscriber) {
        this.watch(subscriber);
      }
    });
    this.subscribed = subscribed;
    subscribed.catch(() => {
      // A failed SUBSCRIBE is reported to the caller; the next one tries a new connection.
      if (this.subscribed === subscribed) {
        void this.close();
      }
    });
    return subscribed;
  }

  /**
   * Sends a `PING` on the subscriber connection every `checkInterval(checkTimeout)` (20 s with the
   * default command timeout; see utils/connection-liveness.ts); one unanswered within
   * `checkTimeout` drops the connection, logged once per outage, and ioredis connects again, after
   * which resubscribe() listens again. The connection carries nothing while nobody triggers, so
   * one a network silently forgot (a NAT or load balancer dropping an idle flow, a frozen proxy)
   * is reported by nothing else: ioredis sends nothing on an idle connection, and TCP keepalive
   * is answered by a stopped proxy's kernel. `PING` is allowed while subscribed (RESP2 and RESP3),
   * reaches no other instance, and is in `cronLockAclRule()`.
   *
   * Not on a Cluster: its `PING` goes to any node, not to the connection that subscribed.
   */
  private watch(subscriber: Redis): void {
    const timeout = this.checkTimeout;
    const silence = `no answer from Redis within ${timeout}ms to a PING`;
    const check = (): Promise<unknown> =>
      CHECKED_STATUSES.has(subscriber.status)
        ? // Any answer, an error reply or a closed connection included, is no silent connection:
          // ioredis reconnects a closed one by itself.
          withTimeout(
            subscriber.ping().catch(() => undefined),
            timeout,
            silence,
          )
        : Promise.resolve();
    this.liveness = watchConnection(check, timeout, () => {
      if (this.subscriber !== subscriber) {
        return;
      }
      if (!this.lost) {
        this.lost = true;
        this.log.warn(`Trigger channel connection lost: ${silence}; subscribing again`);
      }
      // Reconnects (a half-open socket is destroyed after ioredis' disconnectTimeout), and
      // resubscribe() listens again on the new connection.
      subscriber.disconnect(true);
      this.watch(subscriber);
    });
  }
}
