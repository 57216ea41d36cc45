import type { Cluster, Redis } from 'ioredis';
import { LOCK_NAME_PATTERN } from '../../cron-lock.constants.js';
import type { HistoryEntry } from '../lock-store.interface.js';
import { parseEntry } from '../history-entries.js';
import { defineScript, runScript } from './redis-script.js';

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
 * after `<prefix>:` keeps another prefix's keys out (`a` never matches `a:b:{job}:state`); a prefix
 * has no glob characters (it is validated), so it needs no escaping.
 */
export async function listJobNames(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const nodes: Redis[] = isCluster(client) ? client.nodes('master') : [client];
  const names = new Set<string>();
  for (const node of nodes) {
    for (const name of await scanNode(node, prefix)) {
      names.add(name);
    }
  }
  return [...names].sort();
}

async function scanNode(node: Redis, prefix: string): Promise<string[]> {
  const head = `${prefix}:{`;
  const tail = '}:state';
  const names: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', `${head}*${tail}`, 'COUNT', 1_000);
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
