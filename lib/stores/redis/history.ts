import type { Cluster, Redis } from 'ioredis';
import { LOCK_NAME_PATTERN } from '../../cron-lock.constants.js';
import { LockStoreError } from '../../cron-lock.errors.js';
import type { HistoryEntry } from '../lock-store.interface.js';
import { parseEntry } from '../history-entries.js';
import { clientKeyPrefix, isClusterClient } from './redis-connection.js';
import { defineScript, runScript } from './redis-script.js';
import { CLUSTER_SLOTS_UNREACHED } from './redis.messages.js';
import { isReplyError } from './reply-error.js';

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
 *
 * @throws {@link LockStoreError} on a Cluster when some slot's master is out of reach (see
 *   {@link listClusterJobs}): never a list that leaves out the jobs stored there without saying so.
 */
export async function listJobNames(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const head = `${clientKeyPrefix(client)}${prefix}:{`;
  const names = isClusterClient(client)
    ? await listClusterJobs(client, head)
    : await scanNode(client, head);
  return [...new Set(names)].sort();
}

/**
 * One SCAN per master of the client's slot map, refused when a slot's master cannot be read: a
 * crashed master, before a replica takes over. ioredis drops such a node from its pool (so the
 * masters left are scanned without error) and only adds it back, or its replacement, at its next
 * slot refresh, which nothing may cause (no periodic refresh by default): this listing asks for
 * one. Without the check the CLI's `status` and the dashboard would show part of the fleet as all
 * of it, during the outage the operator is looking into. A slot no node serves holds no keys.
 */
async function listClusterJobs(cluster: Cluster, head: string): Promise<string[]> {
  if (unreachedSlots(cluster, new Set()).size > 0) {
    await new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve()));
  }
  const names: string[] = [];
  const failed = new Set<string>();
  for (const node of cluster.nodes('master')) {
    try {
      names.push(...(await scanNode(node, head)));
    } catch (error) {
      // A server's refusal (NOPERM) is its answer, and says more than "out of reach".
      if (isReplyError(error)) {
        throw error;
      }
      failed.add(nodeKey(node));
    }
  }
  const unreached = unreachedSlots(cluster, failed);
  if (unreached.size > 0) {
    throw new LockStoreError(CLUSTER_SLOTS_UNREACHED([...unreached]));
  }
  return names;
}

/** Per master address out of reach (left the pool, or in `failed`), its slots: `0-5460, 7000`. */
export function unreachedSlots(cluster: Cluster, failed: ReadonlySet<string>): Map<string, string> {
  const known = new Set(cluster.nodes('master').map(nodeKey));
  const ranges = new Map<string, Array<[number, number]>>();
  cluster.slots.forEach((owners, slot) => {
    const owner = owners?.[0];
    if (owner === undefined || (known.has(owner) && !failed.has(owner))) {
      return;
    }
    const own = ranges.get(owner) ?? [];
    const last = own[own.length - 1];
    if (last !== undefined && last[1] === slot - 1) {
      last[1] = slot;
    } else {
      own.push([slot, slot]);
    }
    ranges.set(owner, own);
  });
  const shown = ([first, last]: [number, number]): string =>
    first === last ? `${first}` : `${first}-${last}`;
  return new Map([...ranges].map(([owner, own]) => [owner, own.map(shown).join(', ')]));
}

/** The address ioredis keys a node by in its pool and slot map. */
export function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
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
