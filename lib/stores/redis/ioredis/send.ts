import type { Cluster, Redis } from 'ioredis';
import { evalshaBatched } from './turn-batch.js';

// The one door from the Redis store to ioredis internals: script calls go through here, and
// only this folder knows about `Command`, `sendCommand(command, stream)` and the client's stream.

/**
 * How script calls reach Redis. `batched` (default): the calls of one event-loop turn share one
 * socket write and one deadline timer, through ioredis internals. `plain`: `client.evalsha`,
 * nothing internal, for an ioredis release whose internals changed.
 *
 * @publicApi
 */
export type ScriptTransport = 'batched' | 'plain';

/**
 * Clients whose script calls go through plain `evalsha`. Kept per client, not per store: the
 * batch state lives on the client too, and a client shared by two stores is one socket.
 */
const plainClients = new WeakSet<object>();

/** From now on, script calls on `client` use plain `evalsha`. */
export function usePlainEvalsha(client: Redis | Cluster): void {
  plainClients.add(client);
}

/** Sends `EVALSHA sha` with `keys` and `args` on `client`, by the client's transport. */
export function sendEvalsha(
  client: Redis | Cluster,
  sha: string,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  return plainClients.has(client)
    ? client.evalsha(sha, keys.length, ...keys, ...args)
    : evalshaBatched(client, sha, keys, args);
}

export { flushBatched as flushPending } from './turn-batch.js';
