import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Redis, type Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockService,
  LOCK_CLIENT_DEFAULTS,
  LOCK_CLUSTER_DEFAULTS,
  LockedCron,
  RedisLockStore,
  cronLockAclRule,
} from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { loadOtherIoredis, type OtherIoredis } from '../support/other-ioredis.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { bootApp, runOnce } from './support/app.js';
import { command, startClusterTopology, type ClusterTopology } from './support/topology.js';

const USER = 'other-ioredis-locker';
const PASSWORD = 'other-ioredis-Pa55word-7e2a';

/** Runs of the job, by instance. */
const runs: string[] = [];

@Injectable()
class YearlyJob {
  constructor(private readonly locks: CronLockService) {}

  // Once a year: no scheduler tick gets in the way of the test.
  @LockedCron('0 0 1 1 *', { ttl: '10s', name: 'other-ioredis-yearly' })
  report(): void {
    runs.push(this.locks.instanceId);
  }
}

// An app whose ioredis is another install than the one the library resolves (a nested
// node_modules, another minor version) builds its clients from classes the library's
// `instanceof` does not know. Such a client is still an ioredis client, and a Cluster one still
// needs the Cluster handling.
let other: OtherIoredis;
// A nested install brings its own `redis-errors` too: a server's refusal through it is a
// `ReplyError` of another class than the library's.
let nested: OtherIoredis;
const apps: TestingModule[] = [];
const clients: Array<Redis | Cluster> = [];

beforeAll(() => {
  other = loadOtherIoredis();
  nested = loadOtherIoredis({ ownRedisErrors: true });
});

afterAll(() => {
  other?.remove();
  nested?.remove();
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(clients.splice(0).map((client) => client.quit().catch(() => undefined)));
  runs.length = 0;
});

describe('a Cluster client made by another copy of ioredis, passed as `redis`', () => {
  let topology: ClusterTopology;

  beforeAll(async () => {
    topology = await startClusterTopology(3);
  });

  afterAll(async () => {
    await topology?.stop();
  });

  /**
   * The lock user of `keyPrefix` on every node. Set before any app subscribes: setting it again
   * while one listens would revoke its channel for a moment, and Redis drops such a subscriber.
   */
  async function setLockUser(keyPrefix: string): Promise<void> {
    for (const node of topology.nodes) {
      await command(node.port, 'ACL', 'SETUSER', USER, 'reset', 'on', `>${PASSWORD}`);
      await command(node.port, 'ACL', 'SETUSER', USER, ...cronLockAclRule(keyPrefix).split(' '));
    }
  }

  /** A Cluster client of the other copy, logging in as the lock user on every node. */
  async function otherCluster(copy = other): Promise<Cluster> {
    const cluster = new copy.ioredis.Cluster(topology.startupNodes, {
      ...LOCK_CLUSTER_DEFAULTS,
      redisOptions: { ...LOCK_CLUSTER_DEFAULTS.redisOptions, username: USER, password: PASSWORD },
    });
    clients.push(cluster);
    // (A client you create is yours to watch: the module adds no listener to it.)
    cluster.on('error', () => undefined);
    await waitFor(() => cluster.status === 'ready', {
      timeout: 10_000,
      message: 'Cluster client of the other copy ready',
    });
    return cluster;
  }

  /** The user of every connection subscribed to a channel, on every node. */
  async function subscriberUsers(): Promise<string[]> {
    const users: string[] = [];
    for (const node of topology.nodes) {
      const list = String(await command(node.port, 'CLIENT', 'LIST'));
      for (const line of list.split('\n')) {
        if (/ sub=[1-9]/.test(line)) {
          users.push(/ user=(\S+)/.exec(line)?.[1] ?? '?');
        }
      }
    }
    return users;
  }

  it('starts the store, runs a triggered job through the channel, and listens as the client’s user', async () => {
    const keyPrefix = uniquePrefix('other-cluster');
    await setLockUser(keyPrefix);
    const logger = new CapturingLogger();
    const worker = await bootApp(
      { redis: await otherCluster(), keyPrefix, instanceId: 'worker', logger },
      { providers: [YearlyJob] },
    );
    apps.push(worker);
    const caller = await bootApp({
      redis: await otherCluster(),
      keyPrefix,
      instanceId: 'caller',
      logger: false,
    });
    apps.push(caller);

    // The worker listens before the trigger: a request published before it subscribed reaches
    // nobody.
    await waitFor(async () => (await subscriberUsers()).length > 0, {
      timeout: 10_000,
      message: 'the worker subscribed to the trigger channel',
    });
    // The listening connection is a copy of the client's node settings: it logs in as its user,
    // not as Redis' default one.
    expect(new Set(await subscriberUsers())).toEqual(new Set([USER]));

    const result = await caller
      .get(CronLockService)
      .trigger('other-ioredis-yearly', { wait: true, timeout: '10s' });
    expect(result).toMatchObject({ ran: true, instanceId: 'worker' });
    expect(runs).toEqual(['worker']);
    expect(logger.lines.filter((line) => line.level === 'warn' || line.level === 'error')).toEqual(
      [],
    );
  });

  it('reports a refused SCAN as the permission to grant, with its own redis-errors too', async () => {
    // The least-privilege rule gives no SCAN: the dashboard then shows the app's own jobs, which
    // it does for a refusal only, not for masters out of reach (a 503).
    const keyPrefix = uniquePrefix('nested-cluster');
    await setLockUser(keyPrefix);
    const store = new RedisLockStore(await otherCluster(nested), { keyPrefix, logger: false });

    const refused = await store.listJobs().then(
      () => undefined,
      (error: unknown) => error as { message: string; answered: boolean },
    );

    expect(refused?.message).toContain('Redis user lacks permission for SCAN');
    expect(refused?.message).not.toContain('reaches no master');
    expect(refused?.answered).toBe(true);
    await store.close();
  });
});

describe('a Redis client made by another copy of ioredis, passed as `redis`', () => {
  it('is used as the lock client, and a locked run takes its lock through it', async () => {
    const client = new other.ioredis.Redis(testRedisUrl(), LOCK_CLIENT_DEFAULTS);
    clients.push(client);
    client.on('error', () => undefined);
    const keyPrefix = uniquePrefix('other-redis');
    const app = await bootApp({ redis: client, keyPrefix, instanceId: 'one', logger: false });
    apps.push(app);
    expect(await runOnce(app, 'other-redis-run')).toEqual({ ran: true, storeErrors: [] });
    // Written through that client, on its server (not through a client the module made up).
    expect(await client.keys(`${keyPrefix}:*`)).not.toEqual([]);
  });
});

describe('a Redis client made by another copy of ioredis with its own redis-errors', () => {
  let server: RedisServerHandle;
  let admin: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url);
  });

  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  it('sends the release of an acquisition the server refused once, not again every 2 s', async () => {
    // A user that may do anything but run scripts: every acquisition and release is refused.
    await admin.call('ACL', 'SETUSER', 'no-scripts', 'reset', 'on', '>pw', '~*', '&*', '+@all');
    await admin.call('ACL', 'SETUSER', 'no-scripts', '-evalsha', '-eval', '-script');
    const client = new nested.ioredis.Redis(
      `redis://no-scripts:pw@127.0.0.1:${server.port}`,
      LOCK_CLIENT_DEFAULTS,
    );
    clients.push(client);
    client.on('error', () => undefined);
    const logger = new CapturingLogger();
    const app = await bootApp({ redis: client, keyPrefix: uniquePrefix('nested'), logger });
    apps.push(app);
    await admin.call('ACL', 'LOG', 'RESET');

    expect(await runOnce(app, 'nested-refused')).toMatchObject({
      ran: false,
      reason: 'store-error',
    });
    // The acquisition, and the release sent for it, refused in turn.
    await waitFor(async () => (await deniedScripts()) >= 2, {
      message: 'the acquisition and its release refused',
    });
    // A refusal is the server's answer: read as no answer, the release was sent again 250 ms
    // later, then every 0.5, 1 and 2 s, for as long as the app ran. A bounded wait: long enough
    // for two of those rounds.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await deniedScripts()).toBe(2);
    expect(logger.lines.map((line) => line.message).join('\n')).toContain(
      'Redis user lacks permission for EVALSHA',
    );
  }, 30_000);

  /** Script calls the server refused since the ACL log was reset (entries count repeats). */
  async function deniedScripts(): Promise<number> {
    const entries = (await admin.call('ACL', 'LOG', '128')) as unknown[][];
    let total = 0;
    for (const entry of entries) {
      const field = (name: string): unknown => entry[entry.indexOf(name) + 1];
      if (field('object') === 'evalsha' || field('object') === 'eval') {
        total += Number(field('count'));
      }
    }
    return total;
  }
});
