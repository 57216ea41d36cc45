import type { Cluster, Redis } from 'ioredis';
import { describeStoreError } from '../../utils/redact.js';
import { describeThrown } from '../../utils/thrown.js';
import { accessHint } from './acl.js';
import { isSubscriberRefusal } from './client-state.js';
import { databaseHint } from './database-select.js';
import { clientKeyPrefix } from './redis-connection.js';
import { isReplyError } from './reply-error.js';
import { SUBSCRIBED_CLIENT_HINT } from './redis.messages.js';
import { tlsHint } from './tls.js';

/**
 * A redacted one-line description of a Redis error, led by what it means and the fix when it is
 * a known deployment mistake (an untrusted TLS certificate, a missing ACL permission, a wrong
 * password, a Sentinel master name that does not exist, a database the server refuses, a client
 * passed in that the app subscribed with), so the
 * store-error line itself tells the operator what to change. With the store's `client` and
 * `keyPrefix`, an ACL refusal of the lock keys names the pattern to allow as the keys are sent:
 * the client's own ioredis `keyPrefix` followed by the store's.
 */
export function describeRedisError(
  error: unknown,
  secrets: readonly string[] = [],
  client?: Redis | Cluster,
  keyPrefix?: string,
): string {
  const detail = describeStoreError(error, secrets);
  const sentAs =
    client === undefined || keyPrefix === undefined
      ? undefined
      : clientKeyPrefix(client) + keyPrefix;
  const hint =
    (isSubscriberRefusal(error) ? SUBSCRIBED_CLIENT_HINT : undefined) ??
    databaseHint(error) ??
    tlsHint(error) ??
    accessHint(error, sentAs) ??
    sentinelHint(error);
  return hint === undefined ? detail : `${hint} (${detail})`;
}

/**
 * ioredis retries a master name the Sentinels do not know forever, and says only "All sentinels
 * are unreachable", which sends the operator to the network: the name is the mistake.
 */
function sentinelHint(error: unknown): string | undefined {
  if (!/No such master with that name/i.test(describeThrown(error).message)) {
    return undefined;
  }
  return (
    'Sentinel knows no master by the name set as redis.name. Fix: set redis.name to the master ' +
    "group of `sentinel monitor <name> …`; see docs/deploying.md, 'Sentinel'"
  );
}

/**
 * Whether a Redis error is the server's refusal of the command itself, which the same command
 * meets again however soon it is sent: a permission the user lacks (`NOPERM`), a key of another
 * type under a lock's name (`WRONGTYPE`), a command the server does not have (renamed or
 * disabled). The server read it, after everything sent to it before. Not a state the server is
 * in for a while (`LOADING`, `BUSY`, `READONLY` during a failover, `OOM`, too many clients) nor
 * an error of the client (a timeout, a closed connection): those are no answer. Also ioredis'
 * refusal on a client the app subscribed with: never sent, so it took nothing to release after.
 */
export function isServerRefusal(error: unknown): boolean {
  return (
    (isReplyError(error) && /^(?:NOPERM|WRONGTYPE|ERR unknown command)\b/.test(error.message)) ||
    isSubscriberRefusal(error)
  );
}
