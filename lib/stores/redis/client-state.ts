import type { Cluster, Redis } from 'ioredis';
import { LockStoreError } from '../../cron-lock.errors.js';
import { CLOSED_CLIENT_HINT, SUBSCRIBED_CLIENT_HINT } from './redis.messages.js';

/**
 * ioredis' refusal of a command sent on a connection in RESP2 subscriber mode. It refuses it
 * before writing it, so the command never reached the server.
 */
const SUBSCRIBER_REFUSAL = /^Connection in subscriber mode\b/;

/**
 * Whether a client passed in is subscribed (the app's own `subscribe()` or `psubscribe()`) over
 * RESP2, as ioredis 5 always speaks and ioredis 6 with `protocol: 2`: ioredis then refuses every
 * command but (un)subscriptions and `PING`, so the startup `PING` would pass and every lock command
 * fail. Read from ioredis' public `mode` (`'normal'` over RESP3, where a subscribed connection
 * takes any command); a `Cluster` subscribes on a connection of its own and has no such mode.
 */
export function isSubscribedClient(client: Redis | Cluster): boolean {
  return (client as { mode?: unknown }).mode === 'subscriber';
}

/** Whether `error` is ioredis' refusal of a command on a subscribed connection (never sent). */
export function isSubscriberRefusal(error: unknown): boolean {
  return error instanceof Error && SUBSCRIBER_REFUSAL.test(error.message);
}

/**
 * Rejects a store operation on a client the app subscribed with after handing it over, which a
 * `PING` alone would not tell: the startup line and a health check must not call it ready.
 */
export function refuseSubscribedClient(client: Redis | Cluster): void {
  if (isSubscribedClient(client)) {
    throw new LockStoreError(SUBSCRIBED_CLIENT_HINT);
  }
}

/**
 * Whether a client is closed for good: status `end`, after its `quit()` or `disconnect()`, or once
 * its `retryStrategy` gave up. ioredis refuses every command then ("Connection is closed.") and
 * never connects it again by itself.
 */
export function isClosedClient(client: Redis | Cluster): boolean {
  return client.status === 'end';
}

/**
 * A store error on a client passed in, led by the cause and the fix when the app closed it: the
 * bare "Connection is closed." reads as an outage the module would ride out.
 */
export function withClosedClientHint(client: Redis | Cluster, text: string): string {
  return isClosedClient(client) ? `${CLOSED_CLIENT_HINT} (${text})` : text;
}
