import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { sendEvalsha } from './ioredis/send.js';

/** A Lua script and its SHA1, run by `EVALSHA` with an `EVAL` fallback. */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

export function defineScript(source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const asIs = (reply: unknown): unknown => reply;
const rethrow = (error: unknown): never => {
  throw error;
};

/**
 * Runs a script in one round trip in the common case. After `SCRIPT FLUSH`, a failover or a
 * restart the server answers `NOSCRIPT`; `EVAL` then runs it and caches it again. Names and
 * values only ever travel as KEYS/ARGV, never inside the Lua source. Calls made in one burst
 * (many jobs on one schedule) share one socket write: see {@link sendEvalsha}.
 *
 * `parse` turns the reply into the result and `fail` turns an error into the one to reject with
 * (it must throw). Both run in the one `then` of the command's promise: every extra promise
 * layer is paid twice per lock cycle.
 */
export function runScript<T = unknown>(
  client: Redis | Cluster,
  script: RedisScript,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
  parse: (reply: unknown) => T = asIs as (reply: unknown) => T,
  fail: (error: unknown) => never = rethrow,
): Promise<T> {
  return sendEvalsha(client, script.sha, keys, args).then(parse, (error: unknown) => {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
      return client.eval(script.source, keys.length, ...keys, ...args).then(parse, fail);
    }
    return fail(error);
  });
}
