import type { Cluster } from 'ioredis';
import { startupNodesOf } from './ioredis/startup-nodes.js';
import { REDIS_CLUSTER_DATABASE, type RedisSettingSource } from './redis.messages.js';

/**
 * Why a `Cluster` client cannot carry the locks as configured: a startup node (`redis://…/2`,
 * `?db=2`, `{ db: 2 }`) or `redisOptions.db` names a database other than 0. A Redis Cluster has
 * only database 0; ioredis drops a startup node's database without a word and uses database 0
 * whatever a node answers to `redisOptions.db`, so apps or environments told apart by their
 * database would share their locks. `undefined` when every database named is 0.
 */
export function clusterDatabaseProblem(
  cluster: Cluster,
  source: RedisSettingSource,
): string | undefined {
  for (const node of startupNodesOf(cluster)) {
    const { address, db } = startupNodeDatabase(node);
    if (!isDatabaseZero(db)) {
      return REDIS_CLUSTER_DATABASE(source, `startup node ${address}`, db);
    }
  }
  const db = cluster.options.redisOptions?.db as unknown;
  return isDatabaseZero(db) ? undefined : REDIS_CLUSTER_DATABASE(source, 'redisOptions.db', db);
}

/** Absent, or 0 however written (`0`, `'0'`): the one database a Cluster has. */
function isDatabaseZero(db: unknown): boolean {
  return db === undefined || db === null || db === '' || Number(db) === 0;
}

/**
 * A startup node's address (never its credentials) and the database it names, read as ioredis
 * reads it: a URL's path, else its `db` parameter; an object's `db`.
 */
function startupNodeDatabase(node: unknown): { address: string; db: unknown } {
  if (typeof node === 'string') {
    let url: URL;
    try {
      url = new URL(/^rediss?:\/\//i.test(node) ? node : `redis://${node}`);
    } catch {
      // Not a URL ioredis could read either: it fails on it at connect, naming no database.
      return { address: '', db: undefined };
    }
    const path = /^rediss?:\/\//i.test(node) ? url.pathname.slice(1) : '';
    return {
      address: `${url.hostname || '127.0.0.1'}:${url.port || 6379}`,
      db: path !== '' ? path : (url.searchParams.get('db') ?? undefined),
    };
  }
  if (typeof node === 'object' && node !== null) {
    const { host, port, db } = node as { host?: unknown; port?: unknown; db?: unknown };
    return { address: `${String(host ?? '127.0.0.1')}:${String(port ?? 6379)}`, db };
  }
  return { address: '', db: undefined };
}
