import { Injectable, type Type } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { Cluster } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LOCK_CLUSTER_DEFAULTS,
  LockedCron,
  RedisLockStore,
  cronLockAclRule,
  type CronLockEvents,
  type LockContext,
} from 'nestjs-cron-lock';
import { ACQUIRE_SCRIPT } from '../../lib/stores/redis/acquire.js';
import { uniquePrefix, waitFor } from '../support/redis.js';
import {
  nonIncreasingFences,
  recordedRun,
  runRecordOf,
  wallNow,
  type RunRecord,
} from '../support/run-log.js';
import {
  command,
  startClusterTopology,
  transaction,
  type ClusterTopology,
} from './support/topology.js';

interface JobRun extends RunRecord {
  name: string;
}

const JOB_COUNT = 60;
const manyRuns: JobRun[] = [];

/** A provider with 60 per-second locked crons, `cluster-job-0` … `cluster-job-59`. */
function manyJobsProvider(): Type {
  @Injectable()
  class ManyJobs {}
  for (let i = 0; i < JOB_COUNT; i++) {
    const key = `job${i}`;
    const name = `cluster-job-${i}`;
    Object.defineProperty(ManyJobs.prototype, key, {
      configurable: true,
      writable: true,
      value: async (ctx: LockContext): Promise<void> => {
        manyRuns.push({ name, ...(await recordedRun(ctx)) });
      },
    });
    const descriptor = Object.getOwnPropertyDescriptor(ManyJobs.prototype, key)!;
    const decorated = LockedCron('* * * * * *', { ttl: '5s', name })(
      ManyJobs.prototype,
      key,
      descriptor,
    );
    Object.defineProperty(ManyJobs.prototype, key, decorated ?? descriptor);
  }
  return ManyJobs;
}

/** The resharded job: its first run holds the lock until `releaseHolder()`. */
const reshardRuns: RunRecord[] = [];
let holding = false;
let releaseHolder: () => void = () => undefined;
const holderReleased = new Promise<void>((resolve) => (releaseHolder = resolve));

@Injectable()
class ReshardedJob {
  @LockedCron('* * * * * *', { ttl: '1500ms', name: 'cluster-resharded' })
  async tick(ctx: LockContext): Promise<void> {
    const start = wallNow();
    // The first run ends at once, so the job has a history (its list moves with the slot, as for
    // any job that ran before); the second holds the lock through the resharding.
    if (reshardRuns.length === 1 && !holding) {
      holding = true;
      await holderReleased;
    } else {
      await sleep(5);
    }
    reshardRuns.push(runRecordOf(ctx, start));
  }
}

describe('Redis Cluster: an existing Cluster client passed as `redis`', () => {
  let topology: ClusterTopology;
  let clients: Cluster[] = [];
  let modules: TestingModule[] = [];

  beforeAll(async () => {
    topology = await startClusterTopology(3);
  });

  afterAll(async () => {
    await topology?.stop();
  });

  afterEach(async () => {
    await Promise.all(modules.map((module) => module.close()));
    await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
    modules = [];
    clients = [];
  });

  async function newCluster(): Promise<Cluster> {
    const cluster = new Cluster(topology.startupNodes, LOCK_CLUSTER_DEFAULTS);
    clients.push(cluster);
    // (A client you create is yours to watch: the module adds no listener to it.)
    cluster.on('error', () => undefined);
    await new Promise<void>((resolve) => cluster.once('ready', resolve));
    return cluster;
  }

  async function boot(
    instanceId: string,
    keyPrefix: string,
    provider: Type,
  ): Promise<{ cluster: Cluster; locks: CronLockService; events: Array<[string, unknown]> }> {
    const cluster = await newCluster();
    const module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ redis: cluster, keyPrefix, instanceId, logger: false }),
      ],
      providers: [provider],
    }).compile();
    modules.push(module);
    const locks = module.get(CronLockService);
    const events: Array<[string, unknown]> = [];
    for (const type of ['renewed', 'lost', 'store-error', 'released'] as const) {
      locks.on(type, (payload) => events.push([type, payload]));
    }
    await module.init();
    return { cluster, locks, events };
  }

  it('keeps every key of a job in one slot, so acquire, renew, inspect and release never hit CROSSSLOT', async () => {
    const cluster = await newCluster();
    const keyPrefix = uniquePrefix('cluster-ops');
    const store = new RedisLockStore(cluster, { keyPrefix, logger: false });
    // A control: two keys of different slots in one script are refused by the server.
    await expect(cluster.eval('return 1', 2, 'a', 'b')).rejects.toThrow(/CROSSSLOT/);

    const names = ['a', 'Reports.hourly', 'x:y:z', 'job-with.dots_and-dashes', 'n9'];
    for (const name of names) {
      const keys = store.keysOf(name);
      expect(keys).toEqual({
        lock: `${keyPrefix}:{${name}}:lock`,
        state: `${keyPrefix}:{${name}}:state`,
        history: `${keyPrefix}:{${name}}:history`,
      });
      const slot = await topology.slotOf(keys.lock);
      expect(await topology.slotOf(keys.state)).toBe(slot);
      expect(await topology.slotOf(keys.history)).toBe(slot);

      const token = `token-${name}`;
      const acquired = await store.acquire({
        name,
        token,
        ttl: 5_000,
        scheduledAt: 1_000,
        instanceId: 'i1',
      });
      expect(acquired).toMatchObject({ acquired: true });
      const owner = await topology.ownerOf(slot);
      expect(await command(owner.port, 'EXISTS', keys.lock, keys.state)).toBe(2);
      expect(await store.renew({ name, token, ttl: 8_000 })).toEqual({ renewed: true });
      expect(await store.inspect(name)).toMatchObject({ holder: 'i1', lastTick: 1_000 });
      expect(await store.release({ name, token })).toBe(true);
      expect(await command(owner.port, 'EXISTS', keys.lock)).toBe(0);
    }
    expect(await store.ping()).toBeGreaterThanOrEqual(0);
    // The command timeout is read from the Cluster's node options (`redisOptions`).
    expect((store as unknown as { readyTimeout: number }).readyTimeout).toBe(
      LOCK_CLUSTER_DEFAULTS.redisOptions?.commandTimeout,
    );
    await store.close();
    expect(cluster.status).toBe('ready');
  });

  it('pauses, records history and schedules per job in its slot, and lists the jobs of every master', async () => {
    const cluster = await newCluster();
    const keyPrefix = uniquePrefix('cluster-fleet');
    const store = new RedisLockStore(cluster, { keyPrefix, logger: false });
    const names = Array.from({ length: 12 }, (_, i) => `fleet-${i}`);
    const owners = new Set<number>();
    for (const name of names) {
      owners.add((await topology.ownerOf(await topology.slotOf(store.keysOf(name).state))).port);
      await store.registerJob(name, { cron: '0 * * * *', timeZone: 'UTC' });
      await store.pause(name, { reason: 'cluster', until: null });
      const refused = await store.acquire({
        name,
        token: `token-${name}`,
        ttl: 5_000,
        scheduledAt: 1_000,
        instanceId: 'i1',
        historySize: 10,
      });
      expect(refused).toMatchObject({ acquired: false, reason: 'paused' });
      expect(await store.history(name, 10)).toMatchObject([{ kind: 'paused', scheduledAt: 1_000 }]);
      expect(await store.inspect(name)).toMatchObject({ paused: true, cron: '0 * * * *' });
      expect(await store.resume(name)).toBe(true);
    }
    // The control: the names spread over more than one master, so one node's SCAN would miss some.
    expect(owners.size).toBeGreaterThan(1);
    expect(await store.listJobs()).toEqual([...names].sort());
    await store.close();
  });

  it('works under the least-privilege ACL user of cronLockAclRule, as the deploying guide gives it', async () => {
    const keyPrefix = uniquePrefix('cluster-acl');
    const user = 'cluster-locker';
    const password = 'cluster-acl-Pa55word-4d1c';
    // ACL users are per node: a Cluster deployment defines the user on every one.
    for (const node of topology.nodes) {
      await command(node.port, 'ACL', 'SETUSER', user, 'reset', 'on', `>${password}`);
      await command(node.port, 'ACL', 'SETUSER', user, ...cronLockAclRule(keyPrefix).split(' '));
      await command(node.port, 'ACL', 'LOG', 'RESET');
    }
    const cluster = new Cluster(topology.startupNodes, {
      ...LOCK_CLUSTER_DEFAULTS,
      redisOptions: { ...LOCK_CLUSTER_DEFAULTS.redisOptions, username: user, password },
    });
    clients.push(cluster);
    cluster.on('error', () => undefined);
    await waitFor(() => cluster.status === 'ready', {
      timeout: 10_000,
      message: 'Cluster client ready under the lock user',
    });
    const store = new RedisLockStore(cluster, { keyPrefix, logger: false });
    const names = Array.from({ length: 6 }, (_, i) => `acl-${i}`);
    for (const name of names) {
      const token = `token-${name}`;
      const request = { name, token, ttl: 5_000, scheduledAt: 1_000, instanceId: 'i1' };
      expect(await store.acquire(request)).toMatchObject({ acquired: true });
      expect(await store.renew({ name, token, ttl: 5_000 })).toEqual({ renewed: true });
      expect(await store.release({ name, token })).toBe(true);
    }
    await store.close();

    const denied = new Set<string>();
    for (const node of topology.nodes) {
      for (const entry of (await command(node.port, 'ACL', 'LOG')) as unknown[][]) {
        denied.add(String(entry[entry.indexOf('object') + 1]));
      }
    }
    // The one refusal: ioredis names its slot-refresh connection and ignores the refusal.
    expect([...denied].filter((object) => object !== 'client|setname')).toEqual([]);
  });

  it('runs 60 jobs spread over the three masters once per occurrence across two apps, through SCRIPT FLUSH on every node', async () => {
    const keyPrefix = uniquePrefix('cluster-many');
    const provider = manyJobsProvider();
    const owners = new Set<number>();
    for (let i = 0; i < JOB_COUNT; i++) {
      const slot = await topology.slotOf(`${keyPrefix}:{cluster-job-${i}}:lock`);
      owners.add((await topology.ownerOf(slot)).port);
    }
    expect(owners.size).toBe(3);

    const apps = await Promise.all([
      boot('app-1', keyPrefix, provider),
      boot('app-2', keyPrefix, provider),
    ]);
    const firstCounted = Math.ceil((Date.now() + 1) / 1_000) * 1_000;
    const occurrencesSince = (from: number): number =>
      new Set(manyRuns.filter((r) => r.scheduledAt >= from).map((r) => r.scheduledAt)).size;
    await waitFor(() => occurrencesSince(firstCounted) >= 2, {
      timeout: 15_000,
      message: 'two occurrences',
    });

    // Every node forgets the scripts; EVALSHA answers NOSCRIPT and the store falls back to EVAL.
    // The check runs in the flush's transaction: the apps keep running their jobs every second,
    // and a run between the two would load the script again.
    for (const node of topology.nodes) {
      expect(
        await transaction(node.port, ['SCRIPT', 'FLUSH'], ['SCRIPT', 'EXISTS', ACQUIRE_SCRIPT.sha]),
      ).toEqual(['OK', [0]]);
    }
    const afterFlush = Math.ceil((Date.now() + 1) / 1_000) * 1_000;
    await waitFor(() => occurrencesSince(afterFlush) >= 2, {
      timeout: 15_000,
      message: 'two occurrences after SCRIPT FLUSH',
    });
    for (const node of topology.nodes) {
      expect(await command(node.port, 'SCRIPT', 'EXISTS', ACQUIRE_SCRIPT.sha)).toEqual([1]);
    }
    // Stop counting at an occurrence every job has had time to finish.
    const lastCounted = Math.max(...manyRuns.map((r) => r.scheduledAt)) - 1_000;
    await Promise.all(modules.map((module) => module.close()));
    modules = [];

    for (let i = 0; i < JOB_COUNT; i++) {
      const name = `cluster-job-${i}`;
      const runs = manyRuns.filter((r) => r.name === name);
      for (let at = firstCounted; at <= lastCounted; at += 1_000) {
        expect(
          runs.filter((r) => r.scheduledAt === at),
          `${name} @ ${new Date(at).toISOString()}`,
        ).toHaveLength(1);
      }
      expect(nonIncreasingFences(runs)).toEqual([]);
    }
    const storeErrors = apps.flatMap((app) =>
      app.events.filter(([type]) => type === 'store-error'),
    );
    expect(storeErrors).toEqual([]);
    expect(new Set(manyRuns.map((r) => r.instance))).toEqual(new Set(['app-1', 'app-2']));

    // The module never closes a client it was given.
    for (const app of apps) {
      expect(app.cluster.status).toBe('ready');
      expect(await app.cluster.ping()).toBe('PONG');
    }
  });

  it('keeps a renewing lock while its slot is resharded to another master (MIGRATING/ASK, then MOVED)', async () => {
    const keyPrefix = uniquePrefix('cluster-reshard');
    const apps = await Promise.all([
      boot('app-1', keyPrefix, ReshardedJob),
      boot('app-2', keyPrefix, ReshardedJob),
    ]);
    const renewals = (): number =>
      apps.flatMap((app) => app.events.filter(([type]) => type === 'renewed')).length;
    const renewalsAfter = async (step: Promise<unknown>, count: number, what: string) => {
      await step;
      const from = renewals();
      await waitFor(() => renewals() >= from + count, { timeout: 5_000, message: what });
    };
    await waitFor(() => holding && renewals() >= 1, { timeout: 10_000, message: 'held, renewed' });

    const lockKey = `${keyPrefix}:{cluster-resharded}:lock`;
    const stateKey = `${keyPrefix}:{cluster-resharded}:state`;
    const historyKey = `${keyPrefix}:{cluster-resharded}:history`;
    const slot = await topology.slotOf(lockKey);
    const source = await topology.ownerOf(slot);
    const target = topology.nodes.find((node) => node.id !== source.id)!;
    const migration = topology.migrate(slot, target);

    await renewalsAfter(migration.mark(), 1, 'a renewal while the slot is MIGRATING');
    const moved = migration.moveKeys();
    // Every key of the job moves: a script whose keys are split between two nodes would be
    // answered TRYAGAIN until the migration ends (see docs/deploying.md).
    expect((await moved).sort()).toEqual([lockKey, stateKey, historyKey].sort());
    await renewalsAfter(moved, 2, 'renewals answered with ASK (keys on the importing node)');
    // They reached the keys through ASK: the importing node served them after ASKING.
    expect(String(await command(target.port, 'INFO', 'commandstats'))).toMatch(
      /cmdstat_asking:calls=[1-9]/,
    );
    await renewalsAfter(migration.assign(), 2, 'renewals answered with MOVED');
    expect((await topology.ownerOf(slot)).id).toBe(target.id);
    expect(Number(await command(target.port, 'PTTL', lockKey))).toBeGreaterThan(0);
    expect(await command(source.port, 'CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(0);

    const lost = apps.flatMap((app) => app.events.filter(([type]) => type === 'lost'));
    expect(lost).toEqual([]);
    releaseHolder();
    await waitFor(() => reshardRuns.length >= 2, { message: 'the holder finished' });
    const holderRun = reshardRuns[1];
    const holderReleases = (): Array<CronLockEvents['released']> =>
      apps
        .flatMap((app) => app.events.filter(([type]) => type === 'released'))
        .map(([, payload]) => payload as CronLockEvents['released'])
        .filter((event) => event.fencingToken === holderRun.fencingToken);
    await waitFor(() => holderReleases().length === 1, { message: 'the holder released' });
    // Released on the new owner: the owner-checked DEL followed MOVED too.
    expect(holderReleases()[0].released).toBe(true);

    // Later occurrences run once each, on the new owner of the slot.
    const firstCounted = Math.ceil((Date.now() + 1) / 1_000) * 1_000;
    await waitFor(
      () =>
        new Set(reshardRuns.filter((r) => r.scheduledAt >= firstCounted).map((r) => r.scheduledAt))
          .size >= 3,
      { timeout: 10_000, message: 'three occurrences after the resharding' },
    );
    const lastCounted = Math.max(...reshardRuns.map((r) => r.scheduledAt));
    await Promise.all(modules.map((module) => module.close()));
    modules = [];
    for (let at = firstCounted; at <= lastCounted; at += 1_000) {
      expect(reshardRuns.filter((r) => r.scheduledAt === at)).toHaveLength(1);
    }
    expect(Number(await command(target.port, 'HGET', stateKey, 'tick'))).toBe(lastCounted);
    expect(nonIncreasingFences(reshardRuns)).toEqual([]);
    expect(
      reshardRuns.filter((r) => r.fencingToken > holderRun.fencingToken).length,
    ).toBeGreaterThan(0);
    const storeErrors = apps.flatMap((app) =>
      app.events.filter(([type]) => type === 'store-error'),
    );
    expect(storeErrors).toEqual([]);
  });
});
