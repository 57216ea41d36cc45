// A Redis client (or options) with ioredis' own `keyPrefix`: ioredis prefixes the keys of every
// script call, but not a SCAN pattern nor a pub/sub channel. Everything the module addresses
// outside KEYS must land under the same effective prefix: `<client keyPrefix><module keyPrefix>`.
import { Injectable, Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import type { TestingModule } from '@nestjs/testing';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CRON_LOCK_STORE,
  CronLockModule,
  CronLockService,
  LOCK_CLIENT_DEFAULTS,
  LOCK_CLUSTER_DEFAULTS,
  LockedCron,
  RedisLockStore,
  cronLockAclRule,
  type CronLockModuleOptions,
  type LockContext,
  type TriggerMessage,
} from 'nestjs-cron-lock';
import { CronLockDashboardModule } from 'nestjs-cron-lock/dashboard';
import type { StatusJson } from '../../lib/cli/status.command.js';
import type { TriggerJson } from '../../lib/cli/trigger.command.js';
import { runCli } from '../cli/cli-process.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { waitFor } from '../support/redis.js';
import { bootApp, runOnce } from './support/app.js';
import { startClusterTopology, type ClusterTopology } from './support/topology.js';

/** ioredis' own prefix, on the client; the module's keyPrefix stays the default. */
const CLIENT_PREFIX = 'app:';
/** What the keys really are under, and so what the CLI and the ACL rule are given. */
const EFFECTIVE = 'app:cron-lock';
const CHANNEL = `${EFFECTIVE}:triggers`;
const JOB = 'prefixed-yearly';
const PASSWORD = 'client-prefix-Pa55word-9a2b';

/** Runs of the job, by instance. */
const runs: string[] = [];

@Injectable()
class YearlyJob {
  // Once a year: no scheduler tick gets in the way of the test.
  @LockedCron('0 0 1 1 *', { ttl: '10s', name: JOB })
  report(ctx: LockContext): void {
    runs.push(ctx.instanceId);
  }
}

@Module({})
class DashboardApp {
  static of(redis: Redis): DynamicModule {
    return {
      module: DashboardApp,
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ redis, instanceId: 'dashboard', logger: false }),
        CronLockDashboardModule.forRoot({ path: '/cron-lock' }),
      ],
    };
  }
}

let server: RedisServerHandle;
let admin: Redis;
const apps: Array<TestingModule | INestApplication> = [];
const clients: Redis[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url);
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  for (const client of clients.splice(0)) client.disconnect();
  // Each test lists exactly the jobs it recorded.
  await admin.flushdb();
  runs.length = 0;
});

/**
 * A connected client of the app, with ioredis' keyPrefix, as an app that shares it would have
 * (the module uses a client passed in as is, without waiting for it to connect).
 */
async function prefixedClient(url = server.url, keyPrefix = CLIENT_PREFIX): Promise<Redis> {
  const client = new Redis(url, { ...LOCK_CLIENT_DEFAULTS, keyPrefix });
  client.on('error', () => undefined);
  clients.push(client);
  await waitFor(() => client.status === 'ready', { message: 'client ready' });
  return client;
}

/** An instance with the job, given ioredis options with a keyPrefix (the module's own client). */
async function bootWorker(
  instanceId: string,
  redis: CronLockModuleOptions['redis'] = { url: server.url, keyPrefix: CLIENT_PREFIX },
): Promise<TestingModule> {
  const app = await bootApp({ redis, instanceId, logger: false }, { providers: [YearlyJob] });
  apps.push(app);
  return app;
}

/** `[field, value]` pairs of one `ACL LOG` entry (a flat list). */
function pairs(entry: unknown[]): Array<[string, unknown]> {
  const result: Array<[string, unknown]> = [];
  for (let i = 0; i < entry.length; i += 2) result.push([String(entry[i]), entry[i + 1]]);
  return result;
}

async function channelSubscribers(): Promise<number> {
  const [, count] = (await admin.call('PUBSUB', 'NUMSUB', CHANNEL)) as [string, number];
  return Number(count);
}

async function untilWorkerListens(): Promise<void> {
  await waitFor(async () => (await channelSubscribers()) >= 1, {
    timeout: 10_000,
    message: `a worker subscribed to ${CHANNEL}`,
  });
}

describe('a client with its own ioredis keyPrefix (real redis-server)', () => {
  it('lists the jobs another instance recorded, in listJobs() and the dashboard', async () => {
    const worker = await bootWorker('worker');
    expect(await runOnce(worker, 'prefixed.recorded')).toMatchObject({ ran: true });
    // The run's state is under the client's prefix, as ioredis wrote it.
    expect(await admin.exists(`${EFFECTIVE}:{prefixed.recorded}:state`)).toBe(1);

    const app = await NestFactory.create(DashboardApp.of(await prefixedClient()), {
      logger: false,
    });
    apps.push(app);
    await app.listen(0, '127.0.0.1');
    const store = app.get<RedisLockStore>(CRON_LOCK_STORE);
    expect(await store.listJobs()).toEqual([JOB, 'prefixed.recorded']);

    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const json = (await (await fetch(`${url}/cron-lock/api/jobs`)).json()) as {
      jobs: { name: string }[];
    };
    expect(json.jobs.map((job) => job.name)).toContain('prefixed.recorded');
  });

  it('delivers trigger() from one app to another on the channel of the effective prefix', async () => {
    await bootWorker('worker');
    const caller = await bootApp({
      redis: await prefixedClient(),
      instanceId: 'caller',
      logger: false,
    });
    apps.push(caller);
    await untilWorkerListens();

    const result = await caller.get(CronLockService).trigger(JOB, { wait: true, timeout: '10s' });
    expect(result).toMatchObject({ ran: true, instanceId: 'worker' });
    expect(runs).toEqual(['worker']);
  });

  it('is addressed by the CLI with --prefix <client prefix><keyPrefix>: status and trigger', async () => {
    const worker = await bootWorker('worker', await prefixedClient());
    expect(await runOnce(worker, 'cli.recorded')).toMatchObject({ ran: true });
    await untilWorkerListens();

    const status = await runCli(['status', '--json', '--redis', server.url, '--prefix', EFFECTIVE]);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    const listed = (JSON.parse(status.stdout) as StatusJson).jobs.map((job) => job.name);
    expect(listed).toEqual(['cli.recorded', JOB]);

    const triggered = await runCli([
      'trigger',
      JOB,
      '--redis',
      server.url,
      '--prefix',
      EFFECTIVE,
      '--yes',
      '--wait',
      '--json',
    ]);
    expect(triggered.stderr).toBe('');
    expect(triggered.code).toBe(0);
    expect(JSON.parse(triggered.stdout) as TriggerJson).toMatchObject({
      job: JOB,
      ran: true,
      instanceId: 'worker',
      outcome: 'completed',
    });
    expect(runs).toEqual(['worker']);
  });

  it('runs and hears triggers under a user with cronLockAclRule of the effective prefix', async () => {
    const user = 'prefixed-worker';
    const rules = cronLockAclRule(EFFECTIVE);
    await admin.call('ACL', 'SETUSER', user, 'reset', 'on', `>${PASSWORD}`, ...rules.split(' '));
    await admin.call('ACL', 'LOG', 'RESET');
    const worker = await bootWorker(
      'worker',
      await prefixedClient(`redis://${user}:${PASSWORD}@127.0.0.1:${server.port}`),
    );
    const caller = await bootApp({
      redis: await prefixedClient(),
      instanceId: 'caller',
      logger: false,
    });
    apps.push(caller);

    expect(await runOnce(worker, 'acl.recorded')).toMatchObject({ ran: true });
    await untilWorkerListens();
    const result = await caller.get(CronLockService).trigger(JOB, { wait: true, timeout: '10s' });
    expect(result).toMatchObject({ ran: true, instanceId: 'worker' });
    expect(runs).toEqual(['worker']);
    // No key or channel of the worker was refused: the rule covers them (its one refused
    // command is the startup check's CONFIG GET, which the rule leaves out on purpose).
    const entries = (await admin.call('ACL', 'LOG', '100')) as unknown[][];
    const refused = entries
      .map((entry) => Object.fromEntries(pairs(entry)))
      .filter((fields) => fields.username === user)
      .map((fields) => `${String(fields.reason)}: ${String(fields.object)}`);
    expect(refused).toEqual(['command: config|get']);
  });
});

describe('a client keyPrefix with glob characters (real redis-server)', () => {
  it('lists only its own jobs: the SCAN pattern escapes them', async () => {
    // `a*b:` as a pattern would also match the keys of `axxb:`, of the same length.
    const globbed = new RedisLockStore(await prefixedClient(server.url, 'a*b:'), { logger: false });
    const other = new RedisLockStore(await prefixedClient(server.url, 'axxb:'), { logger: false });
    await globbed.registerJob('globbed.mine', { cron: '0 * * * *', timeZone: 'UTC' });
    await other.registerJob('globbed.other', { cron: '0 * * * *', timeZone: 'UTC' });
    expect(await admin.exists('a*b:cron-lock:{globbed.mine}:state')).toBe(1);

    expect(await globbed.listJobs()).toEqual(['globbed.mine']);
    expect(await other.listJobs()).toEqual(['globbed.other']);
    await Promise.all([globbed.close(), other.close()]);
  });
});

describe('a Cluster client with its own ioredis keyPrefix', () => {
  let topology: ClusterTopology;
  const clusters: Cluster[] = [];

  beforeAll(async () => {
    topology = await startClusterTopology(3);
  });

  afterAll(async () => {
    await Promise.all(clusters.map((cluster) => cluster.quit().catch(() => cluster.disconnect())));
    await topology?.stop();
  });

  async function newCluster(keyPrefix?: string): Promise<Cluster> {
    const cluster = new Cluster(topology.startupNodes, { ...LOCK_CLUSTER_DEFAULTS, keyPrefix });
    clusters.push(cluster);
    cluster.on('error', () => undefined);
    await new Promise<void>((resolve) => cluster.once('ready', resolve));
    return cluster;
  }

  it('lists the jobs of every master and shares its channel with a store of the effective prefix', async () => {
    const app = new RedisLockStore(await newCluster(CLIENT_PREFIX), { logger: false });
    // What the CLI builds: a client of its own, without keyPrefix, given the effective prefix.
    const cli = new RedisLockStore(await newCluster(), { keyPrefix: EFFECTIVE, logger: false });
    const names = Array.from({ length: 8 }, (_, i) => `cluster-prefixed-${i}`);
    for (const name of names) {
      await app.registerJob(name, { cron: '0 * * * *', timeZone: 'UTC' });
    }
    const masters = new Set<number>();
    for (const name of names) {
      masters.add((await topology.ownerOf(await topology.slotOf(`${EFFECTIVE}:{${name}}`))).port);
    }
    expect(masters.size).toBeGreaterThan(1);

    expect(await app.listJobs()).toEqual(names);
    expect(await cli.listJobs()).toEqual(names);

    const heard: TriggerMessage[] = [];
    const subscription = await app.triggers.subscribe((message) => heard.push(message));
    const request: TriggerMessage = {
      kind: 'request',
      id: 'cluster-prefixed-1',
      name: names[0]!,
      force: false,
    };
    await cli.triggers.publish(request);
    await waitFor(() => heard.length > 0, { message: 'the app heard the request' });
    expect(heard).toEqual([request]);
    await subscription.close();
    await Promise.all([app.close(), cli.close()]);
  });
});
