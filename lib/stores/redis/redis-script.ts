import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { evalshaBatched } from './script-batch.js';

/** A Lua script and its SHA1, run by `EVALSHA` with an `EVAL` fallback. */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

export function defineScript(source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Runs a script in one round trip in the common case. After `SCRIPT FLUSH`, a failover or a
 * restart the server answers `NOSCRIPT`; `EVAL` then runs it and caches it again. Names and
 * values only ever travel as KEYS/ARGV, never inside the Lua source. Calls made in one burst
 * (many jobs on one schedule) share one socket write: see {@link evalshaBatched}.
 */
export async function runScript(
  client: Redis | Cluster,
  script: RedisScript,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  try {
    return await evalshaBatched(client, script.sha, keys, args);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
      return client.eval(script.source, keys.length, ...keys, ...args);
    }
    throw error;
  }
}
