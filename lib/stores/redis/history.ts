import type { Cluster, Redis } from 'ioredis';
import { LOCK_NAME_PATTERN } from '../../cron-lock.constants.js';
import type { HistoryEntry } from '../lock-store.interface.js';
import { parseEntry } from '../history-entries.js';
import { clientKeyPrefix } from './redis-connection.js';
import { defineScript, runScript } from './redis-script.js';

// Checked by the store before its guard, so that a bad limit is never reported as a store error.
export { checkHistoryLimit } from '../history-entries.js';

/**
 * A script rather than a plain `LRANGE`: every key command of the store goes through a script, so
 * the least-privilege ACL rule lists script calls only. KEYS[1] history · ARGV: last index
 */
export const HISTORY_SCRIPT = defineScript(`
return redis.call('LRANGE', KEYS[1], 0, ARGV[1])
`);

/**
 * The job's last `limit` history entries, newest first: `LRANGE` of `<prefix>:{<name>}:history`,
 * the list the release (runs, missed occurrences) and the acquire (occurrences skipped while
 * paused) push to. An entry that does not parse is left out rather than failing the read.
 */
export async function readHistory(
  client: Redis | Cluster,
  historyKey: string,
  limit: number,
): Promise<HistoryEntry[]> {
  if (limit <= 0) {
    return [];
  }
  const texts = (await runScript(client, HISTORY_SCRIPT, [historyKey], [limit - 1])) as string[];
  return texts.map(parseEntry).filter((entry): entry is HistoryEntry => entry !== null);
}

/**
 * Names of every job with state under `prefix`, sorted: `SCAN MATCH <prefix>:{*}:state` on the
 * server, or on every master of a Cluster (a SCAN reaches one node's keys only). The `{` right
 * after `<prefix>:` keeps another prefix's keys out (`a` never matches `a:b:{job}:state`).
 *
 * The client's own ioredis `keyPrefix` goes before `prefix` here by hand: ioredis prefixes the
 * keys the scripts write, not a SCAN pattern, and returns the keys as the server has them. The
 * module's prefix has no glob characters (it is validated), the client's may have: escaped.
 */
export async function listJobNames(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const nodes: Redis[] = isCluster(client) ? client.nodes('master') : [client];
  const head = `${clientKeyPrefix(client)}${prefix}:{`;
  const names = new Set<string>();
  for (const node of nodes) {
    for (const name of await scanNode(node, head)) {
      names.add(name);
    }
  }
  return [...names].sort();
}

async function scanNode(node: Redis, head: string): Promise<string[]> {
  const tail = '}:state';
  const pattern = `${head.replace(/[*?[\]\\]/g, '\\$&')}*${tail}`;
  const names: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = next;
    for (const key of keys) {
      const name = key.slice(head.length, key.length - tail.length);
      // `*` may also match keys the module never writes (e.g. with braces inside).
      if (LOCK_NAME_PATTERN.test(name)) {
        names.push(name);
      }
    }
  } while (cursor !== '0');
  return names;
}

function isCluster(client: Redis | Cluster): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}
