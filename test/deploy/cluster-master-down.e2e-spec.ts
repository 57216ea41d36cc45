import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_CLUSTER_DEFAULTS, LockStoreError, RedisLockStore } from 'nestjs-cron-lock';
import { uniquePrefix, waitFor } from '../support/redis.js';
import { startClusterTopology, type ClusterTopology } from './support/topology.js';

/**
 * A master that goes down takes its slots' keys out of reach until it comes back or a replica
 * takes over. The job list is read with one SCAN per master, so it must not pass off the jobs of
 * the masters still up as the whole list (the CLI's `status` and the dashboard show it).
 */
describe('Redis Cluster: listing jobs while a master is down', () => {
  let topology: ClusterTopology;
  let cluster: Cluster | undefined;

  beforeAll(async () => {
    // A cluster of its own: the test stops one of its masters.
    topology = await startClusterTopology(3);
  });

  afterAll(async () => {
    await cluster?.quit().catch(() => cluster?.disconnect());
    await topology?.stop();
  });

  it('refuses to answer with a partial list, naming the slots out of reach, and lists every job again once the master is back', async () => {
    cluster = new Cluster(topology.startupNodes, LOCK_CLUSTER_DEFAULTS);
    cluster.on('error', () => undefined);
    await new Promise<void>((resolve) => cluster!.once('ready', resolve));
    const keyPrefix = uniquePrefix('cluster-down');
    const store = new RedisLockStore(cluster, { keyPrefix, logger: false });
    const schedule = { cron: '0 * * * *', timeZone: 'UTC' };
    const names = Array.from({ length: 12 }, (_, i) => `down-${i}`);
    const ownerOf = new Map<string, number>();
    for (const name of names) {
      await store.registerJob(name, schedule);
      const slot = await topology.slotOf(store.keysOf(name).state);
      ownerOf.set(name, (await topology.ownerOf(slot)).port);
    }
    expect(await store.listJobs()).toEqual([...names].sort());

    const down = topology.nodes.find((node) => [...ownerOf.values()].includes(node.port))!;
    const downJobs = names.filter((name) => ownerOf.get(name) === down.port);
    // The control: some jobs live on the master that goes down, some elsewhere.
    expect(downJobs.length).toBeGreaterThan(0);
    expect(downJobs.length).toBeLessThan(names.length);
    down.server.kill('SIGKILL');
    // ioredis drops a node from its pool when its connection ends; the SCANs of the masters left
    // then all answer, and their jobs used to be the whole list.
    await waitFor(() => !cluster!.nodes('master').some((node) => node.options.port === down.port), {
      timeout: 10_000,
      message: 'the client dropped the dead master from its pool',
    });
    for (let i = 0; i < 5; i++) {
      const refusal = await store.listJobs().then(
        (listed) => listed,
        (error: unknown) => error,
      );
      expect(refusal).toBeInstanceOf(LockStoreError);
      expect((refusal as Error).message).toMatch(
        new RegExp(`slots [0-9]+-[0-9]+ \\(served by 127\\.0\\.0\\.1:${down.port}\\)`),
      );
    }

    await down.server.restart();
    // The listing itself brings the client's slot map up to date: nothing else is sent here.
    await waitFor(() => store.listJobs().catch(() => null), {
      timeout: 20_000,
      interval: 200,
      message: 'a listing answered once the master is back',
    });
    // The master came back empty (no persistence in these tests): its jobs record their state
    // again, once the other masters count it up (until then its slots answer CLUSTERDOWN).
    await waitFor(
      async () => {
        for (const name of downJobs) {
          await store.registerJob(name, schedule);
        }
        return true;
      },
      { timeout: 20_000, interval: 200, message: 'the jobs of the master back registered' },
    );
    expect(await store.listJobs()).toEqual([...names].sort());
    await store.close();
  });
});
