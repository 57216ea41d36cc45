// Every command against a Redis Cluster, given one node's URL: `status` lists the jobs of every
// master (a SCAN of one node would miss those whose slots live elsewhere).
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_CLUSTER_DEFAULTS, RedisLockStore } from 'nestjs-cron-lock';
import type { HistoryJson } from '../../lib/cli/history.command.js';
import type { StatusJson } from '../../lib/cli/status.command.js';
import { startClusterTopology, type ClusterTopology } from '../deploy/support/topology.js';
import { uniquePrefix, waitFor } from '../support/redis.js';
import { runCli } from './cli-process.js';
import { recordRun } from './record-run.js';

describe('nestjs-cron-lock on a Redis Cluster', () => {
  let topology: ClusterTopology;
  let cluster: Cluster;
  let store: RedisLockStore;

  beforeAll(async () => {
    topology = await startClusterTopology(3);
    cluster = new Cluster(topology.startupNodes, LOCK_CLUSTER_DEFAULTS);
    cluster.on('error', () => undefined);
    await waitFor(() => cluster.status === 'ready', { timeout: 30_000, message: 'cluster ready' });
  });

  afterAll(async () => {
    await store?.close();
    await cluster?.quit().catch(() => cluster.disconnect());
    await topology?.stop();
  });

  it('status lists the jobs of every master, and history and pause reach any slot', async () => {
    const prefix = uniquePrefix('cli-cluster');
    store = new RedisLockStore(cluster, { keyPrefix: prefix, logger: false });
    const names = Array.from({ length: 12 }, (_, i) => `job-${i}`);
    for (const name of names) {
      await recordRun(store, name, 'w-1');
    }
    // Twelve names land on more than one master: a scan of one node would miss some.
    const owners = new Set(
      await Promise.all(
        names.map(
          async (name) =>
            (await topology.ownerOf(await topology.slotOf(store.keysOf(name).state))).port,
        ),
      ),
    );
    expect(owners.size).toBeGreaterThan(1);
    const redis = [
      '--redis',
      `redis://${topology.startupNodes[0].host}:${topology.startupNodes[0].port}`,
      '--prefix',
      prefix,
    ];

    const status = await runCli(['status', ...redis, '--json']);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as StatusJson).jobs.map((job) => job.name)).toEqual(
      [...names].sort(),
    );

    const history = await runCli(['history', 'job-7', ...redis, '--json']);
    expect((JSON.parse(history.stdout) as HistoryJson).entries).toHaveLength(1);

    const paused = await runCli(['pause', 'job-7', ...redis, '--yes']);
    expect(paused.code).toBe(0);
    expect(await store.inspect('job-7')).toMatchObject({ paused: true });
  });
});
