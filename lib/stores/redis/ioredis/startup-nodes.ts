import type { Cluster } from 'ioredis';

/**
 * The startup nodes a `Cluster` client was created with, as the app wrote them (URL strings,
 * ports or `{ host, port, … }`). ioredis keeps them in a field its types mark private, and strips
 * a database from its own copy when it connects: only this raw list still says what was asked.
 * Empty when a release of ioredis keeps them elsewhere.
 */
export function startupNodesOf(cluster: Cluster): readonly unknown[] {
  const nodes = (cluster as unknown as { startupNodes?: unknown }).startupNodes;
  return Array.isArray(nodes) ? nodes : [];
}
