import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_CLUSTER_DEFAULTS, RedisLockStore } from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { command, startClusterTopology, type ClusterTopology } from './support/topology.js';

/**
 * The eviction check reads `maxmemory-policy` with `CONFIG GET`, a command of no key, which a
 * Cluster client sends to any one node: each master has its own setting, and a lock lives on the
 * master of its slot.
 */
describe('Redis Cluster: the startup check of maxmemory-policy', () => {
  let topology: ClusterTopology;
  let cluster: Cluster | undefined;

  beforeAll(async () => {
    // A cluster of its own: the test changes one master's settings.
    topology = await startClusterTopology(3);
  });

  afterAll(async () => {
    await cluster?.quit().catch(() => cluster?.disconnect());
    await topology?.stop();
  });

  it('warns when any master may evict lock keys, whichever node the client asks first', async () => {
    cluster = new Cluster(topology.startupNodes, LOCK_CLUSTER_DEFAULTS);
    cluster.on('error', () => undefined);
    await new Promise<void>((resolve) => cluster!.once('ready', resolve));
    const risky = topology.nodes[1];
    expect(await command(risky.port, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru')).toBe(
      'OK',
    );
    // The control: the other masters are safe, so only reading that one master finds the risk.
    for (const node of topology.nodes.filter((other) => other !== risky)) {
      expect(await command(node.port, 'CONFIG', 'GET', 'maxmemory-policy')).toEqual([
        'maxmemory-policy',
        'noeviction',
      ]);
    }
    // Each store checks once; a client that asks one node at random finds the risky one about
    // one time in three, so eight stores in a row all warned only if every master was read.
    for (let i = 0; i < 8; i++) {
      const logger = new CapturingLogger();
      const store = new RedisLockStore(cluster, { logger });
      await store.checkDeployment();
      const warnings = logger.lines.filter((line) => line.level === 'warn');
      expect(warnings.map((line) => line.message)).toEqual([
        expect.stringContaining('maxmemory-policy is allkeys-lru'),
      ]);
      await store.close();
    }
    expect(cluster.status).toBe('ready');
  });
});
