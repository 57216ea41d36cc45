// On a Cluster each job's keys live on the master of its slot. A health check that reaches one
// node of the cluster says nothing about the others: with one master down, every lock whose key
// hashes there fails while the check, answered by a master still up, said the store was fine.
import { Module, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LOCK_CLUSTER_DEFAULTS,
  LockStoreError,
  RedisLockStore,
} from 'nestjs-cron-lock';
import { CronLockHealthIndicator, CronLockHealthModule } from 'nestjs-cron-lock/terminus';
import { uniquePrefix, waitFor } from '../support/redis.js';
import { command, startClusterTopology, type ClusterTopology } from './support/topology.js';

/** The indicator's part of what a health controller returns (the body of its 503 included). */
async function check(app: TestingModule): Promise<Record<string, unknown>> {
  const indicator = app.get(CronLockHealthIndicator);
  let result: HealthCheckResult;
  try {
    result = await app.get(HealthCheckService).check([() => indicator.isHealthy()]);
  } catch (error) {
    if (!(error instanceof ServiceUnavailableException)) {
      throw error;
    }
    result = error.getResponse() as HealthCheckResult;
  }
  return result.details['cron-lock'] as Record<string, unknown>;
}

describe('Redis Cluster: the health check with a master down', () => {
  let topology: ClusterTopology;
  let cluster: Cluster | undefined;
  let app: TestingModule | undefined;

  beforeAll(async () => {
    // A cluster of its own: the test stops one of its masters.
    topology = await startClusterTopology(3);
  });

  afterAll(async () => {
    await app?.close();
    await cluster?.quit().catch(() => cluster?.disconnect());
    await topology?.stop();
  });

  it('reports down, naming the slots out of reach, while any master is down, and up once it is back', async () => {
    cluster = new Cluster(topology.startupNodes, LOCK_CLUSTER_DEFAULTS);
    cluster.on('error', () => undefined);
    await new Promise<void>((resolve) => cluster!.once('ready', resolve));
    const keyPrefix = uniquePrefix('cluster-health');

    @Module({
      imports: [
        CronLockModule.forRoot({ redis: cluster, keyPrefix, logger: false }),
        TerminusModule.forRoot({ logger: false }),
        CronLockHealthModule,
      ],
    })
    class AppModule {}
    app = await Test.createTestingModule({ imports: [AppModule] }).compile();
    await app.init();
    const locks = app.get(CronLockService);
    expect(await check(app)).toMatchObject({ status: 'up', roundTripMs: expect.any(Number) });

    // A job whose keys live on the master that goes down, and one elsewhere.
    const store = new RedisLockStore(cluster, { keyPrefix, logger: false });
    const down = topology.nodes[1];
    const ownerPort = async (name: string): Promise<number> =>
      (await topology.ownerOf(await topology.slotOf(store.keysOf(name).lock))).port;
    const names = Array.from({ length: 30 }, (_, i) => `health-${i}`);
    const owners = await Promise.all(names.map(ownerPort));
    const onDown = names.find((_, i) => owners[i] === down.port)!;
    const elsewhere = names.find((_, i) => owners[i] !== down.port)!;
    expect(onDown).toBeDefined();
    expect(elsewhere).toBeDefined();

    // Without this, the masters still up refuse every key (CLUSTERDOWN) once they mark the dead
    // one failed, about cluster-node-timeout (2 s) after the kill: the control below would then
    // pass only if it ran sooner, a race on a loaded machine. A lone PING is answered either way,
    // so the health check's case is unchanged.
    for (const node of topology.nodes) {
      await command(node.port, 'CONFIG', 'SET', 'cluster-require-full-coverage', 'no');
    }
    down.server.kill('SIGKILL');
    await waitFor(() => !cluster!.nodes('master').some((node) => node.options.port === down.port), {
      timeout: 10_000,
      message: 'the client dropped the dead master from its pool',
    });
    // The control: the locks of that master fail, the others' still answer.
    await expect(store.inspect(onDown)).rejects.toBeInstanceOf(LockStoreError);
    expect(await store.inspect(elsewhere)).toMatchObject({ name: elsewhere, holder: null });

    // Any one node may be asked: several checks in a row all reached the master that is down.
    for (let i = 0; i < 6; i++) {
      const health = await check(app);
      expect(health).toMatchObject({ status: 'down', roundTripMs: null });
      expect(health.message).toMatch(
        new RegExp(
          `^lock store unreachable: .*slots [0-9]+-[0-9]+ \\(served by 127\\.0\\.0\\.1:${down.port}\\)`,
        ),
      );
      await expect(locks.ping()).rejects.toBeInstanceOf(LockStoreError);
    }

    await down.server.restart();
    // The health check alone brings the client's slot map up to date: nothing else is sent here.
    await waitFor(async () => (await check(app!)).status === 'up', {
      timeout: 20_000,
      interval: 200,
      message: 'the health check is up once the master is back',
    });
    expect(await locks.ping()).toBeGreaterThanOrEqual(0);
    await store.close();
  });
});
