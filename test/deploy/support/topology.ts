import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import {
  findFreePort,
  startRedisServer,
  type RedisServerHandle,
} from '../../support/redis-server.js';
import { waitFor } from '../../support/redis.js';

const run = promisify(execFile);
const HOST = '127.0.0.1';

/**
 * Sends one command to the server on `port` over a short-lived connection (no retries, no
 * offline queue) and returns the reply. Works for data nodes and Sentinels alike.
 */
export async function command(port: number, ...args: Array<string | number>): Promise<unknown> {
  return withNode(port, (client) => client.call(String(args[0]), ...args.slice(1).map(String)));
}

/**
 * Sends `commands` to the server on `port` in one MULTI/EXEC and returns their replies: no other
 * client's command runs between them (one sent by a running app, say).
 */
export async function transaction(
  port: number,
  ...commands: Array<Array<string | number>>
): Promise<unknown[]> {
  return withNode(port, async (client) => {
    const multi = client.multi();
    for (const [name, ...args] of commands) multi.call(String(name), ...args.map(String));
    const replies = await multi.exec();
    return (replies ?? []).map(([error, reply]) => {
      if (error) throw error;
      return reply;
    });
  });
}

async function withNode<T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2_000,
    commandTimeout: 5_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** `ROLE` of the server on `port`: `master` or `slave`. */
export async function roleOf(port: number): Promise<string> {
  const reply = (await command(port, 'ROLE')) as unknown[];
  return String(reply[0]);
}

// ---------------------------------------------------------------------------------------------
// Sentinel
// ---------------------------------------------------------------------------------------------

export interface SentinelTopology {
  /** The master group name Sentinel monitors (`mymaster`). */
  readonly name: string;
  /** The data servers: `[initial master, initial replica]`. */
  readonly servers: readonly RedisServerHandle[];
  readonly sentinel: RedisServerHandle;
  /** What ioredis takes as `sentinels`. */
  readonly sentinels: Array<{ host: string; port: number }>;
  /** Port of the master as Sentinel names it now. */
  masterPort(): Promise<number>;
  /**
   * `SENTINEL FAILOVER` and wait until the replica is promoted and Sentinel names it. The old
   * master may still be a master for a while after that (Sentinel converts it later).
   */
  failover(): Promise<{ from: number; to: number }>;
  /** Waits until the server on `port` reports `role:slave` (Sentinel converted it). */
  waitDemoted(port: number, timeout?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Waits until the replica on `port` has a live link to its master. */
async function waitReplicaLinked(port: number, timeout = 15_000): Promise<void> {
  await waitFor(
    async () => /master_link_status:up/.test(String(await command(port, 'INFO', 'replication'))),
    { timeout, interval: 50, message: `replica on port ${port} linked to its master` },
  );
}

/**
 * A master, one replica and one Sentinel (quorum 1, 1 s down-after, 3 s failover-timeout), each
 * on a free port; the Sentinel's config file (which Sentinel rewrites) lives in a temp dir.
 */
export async function startSentinelTopology(name = 'mymaster'): Promise<SentinelTopology> {
  const dir = mkdtempSync(join(tmpdir(), 'cron-lock-sentinel-'));
  const started: RedisServerHandle[] = [];
  try {
    // Every server writes (replication RDBs, Sentinel's config) only inside the temp dir.
    const master = await startRedisServer({ args: ['--dir', dir] });
    started.push(master);
    const replica = await startRedisServer({
      args: ['--replicaof', HOST, String(master.port), '--dir', dir],
    });
    started.push(replica);
    await waitReplicaLinked(replica.port);

    const configFile = join(dir, 'sentinel.conf');
    writeFileSync(
      configFile,
      [
        `sentinel monitor ${name} ${HOST} ${master.port} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 3000`,
        '',
      ].join('\n'),
    );
    const sentinel = await startRedisServer({ configFile, args: ['--sentinel', '--dir', dir] });
    started.push(sentinel);
    // A forced failover needs a replica Sentinel knows about and considers healthy.
    await waitFor(
      async () => {
        const replicas = (await command(sentinel.port, 'SENTINEL', 'REPLICAS', name)) as string[][];
        return replicas.some((fields) => {
          const flags = fields[fields.indexOf('flags') + 1] ?? '';
          return flags === 'slave';
        });
      },
      { timeout: 20_000, interval: 100, message: 'Sentinel discovered the replica' },
    );

    const masterPort = async (): Promise<number> => {
      const addr = (await command(
        sentinel.port,
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        name,
      )) as string[];
      return Number(addr[1]);
    };

    return {
      name,
      servers: [master, replica],
      sentinel,
      sentinels: [{ host: HOST, port: sentinel.port }],
      masterPort,
      async failover() {
        const from = await masterPort();
        const to = [master, replica].find((server) => server.port !== from)!.port;
        await command(sentinel.port, 'SENTINEL', 'FAILOVER', name);
        await waitFor(async () => (await masterPort()) === to && (await roleOf(to)) === 'master', {
          timeout: 20_000,
          interval: 50,
          message: `Sentinel promoted port ${to}`,
        });
        return { from, to };
      },
      async waitDemoted(port, timeout = 30_000) {
        await waitFor(async () => (await roleOf(port)) === 'slave', {
          timeout,
          interval: 100,
          message: `port ${port} demoted to replica`,
        });
      },
      stop: () => stopAll(started, dir),
    };
  } catch (error) {
    await stopAll(started, dir);
    throw error;
  }
}

async function stopAll(servers: readonly RedisServerHandle[], dir: string): Promise<void> {
  await Promise.allSettled(servers.map((server) => server.stop()));
  rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------------------------

export interface ClusterNode {
  readonly port: number;
  /** The node id (`CLUSTER MYID`). */
  readonly id: string;
  readonly server: RedisServerHandle;
}

export interface ClusterTopology {
  readonly nodes: readonly ClusterNode[];
  /** What `new Cluster(…)` takes. */
  readonly startupNodes: Array<{ host: string; port: number }>;
  /** `CLUSTER KEYSLOT key`. */
  slotOf(key: string): Promise<number>;
  /** The master serving `slot` now (asked from the first node). */
  ownerOf(slot: number): Promise<ClusterNode>;
  /**
   * Moves `slot` to `to` in the three steps of a resharding, each awaited separately so a test
   * can act between them: mark it (IMPORTING on `to`, MIGRATING on its owner), then `MIGRATE`
   * its keys, then assign it (`SETSLOT … NODE` on every node).
   */
  migrate(slot: number, to: ClusterNode): ClusterMigration;
  stop(): Promise<void>;
}

export interface ClusterMigration {
  /** IMPORTING on the target, MIGRATING on the source. */
  mark(): Promise<void>;
  /** `MIGRATE` every key of the slot from the source to the target; resolves with their names. */
  moveKeys(): Promise<string[]>;
  /** `CLUSTER SETSLOT <slot> NODE <target>` on the target, the source, then the others. */
  assign(): Promise<void>;
}

/** Highest port whose cluster bus port (port + 10000) is still a valid port. */
const MAX_CLUSTER_PORT = 65_535 - 10_000;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server: Server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** A free port whose +10000 (the cluster bus) is free too. */
async function findClusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await findFreePort();
    if (port <= MAX_CLUSTER_PORT && (await portIsFree(port + 10_000))) {
      return port;
    }
  }
  throw new Error('no free port pair (port, port + 10000) found for a cluster node');
}

async function startClusterNode(dir: string): Promise<RedisServerHandle> {
  for (let attempt = 1; ; attempt++) {
    const port = await findClusterPort();
    try {
      return await startRedisServer({
        port,
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '2000',
          '--dir',
          dir,
        ],
      });
    } catch (error) {
      // The port (or its bus port) was taken between the check and the start: pick another.
      if (attempt >= 5) {
        throw error;
      }
    }
  }
}

/**
 * `masters` cluster masters (no replicas) on free ports, created with `redis-cli --cluster
 * create`; resolves once every node reports `cluster_state:ok` and agrees on the slot map.
 */
export async function startClusterTopology(masters = 3): Promise<ClusterTopology> {
  const dir = mkdtempSync(join(tmpdir(), 'cron-lock-cluster-'));
  const servers: RedisServerHandle[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(await startClusterNode(dir));
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...servers.map((server) => `${HOST}:${server.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    const nodes: ClusterNode[] = [];
    for (const server of servers) {
      nodes.push({
        port: server.port,
        id: String(await command(server.port, 'CLUSTER', 'MYID')),
        server,
      });
    }
    await waitFor(
      async () => {
        for (const node of nodes) {
          const info = String(await command(node.port, 'CLUSTER', 'INFO'));
          if (!/cluster_state:ok/.test(info) || !/cluster_known_nodes:(\d+)/.test(info)) {
            return false;
          }
          if (Number(/cluster_known_nodes:(\d+)/.exec(info)![1]) !== masters) {
            return false;
          }
        }
        return true;
      },
      { timeout: 30_000, interval: 100, message: 'cluster_state:ok on every node' },
    );

    const ownerOf = async (slot: number): Promise<ClusterNode> => {
      const ranges = (await command(nodes[0].port, 'CLUSTER', 'SLOTS')) as Array<
        [number, number, [string, number, string]]
      >;
      const range = ranges.find(([first, last]) => slot >= first && slot <= last);
      const node = nodes.find((candidate) => candidate.port === Number(range?.[2][1]));
      if (!node) {
        throw new Error(`no owner found for slot ${slot}`);
      }
      return node;
    };

    return {
      nodes,
      startupNodes: nodes.map((node) => ({ host: HOST, port: node.port })),
      slotOf: async (key) => Number(await command(nodes[0].port, 'CLUSTER', 'KEYSLOT', key)),
      ownerOf,
      migrate(slot, to) {
        let from: ClusterNode | undefined;
        const source = (): ClusterNode => {
          if (!from) {
            throw new Error('call mark() first');
          }
          return from;
        };
        return {
          async mark() {
            from = await ownerOf(slot);
            if (from.id === to.id) {
              throw new Error(`slot ${slot} is already on port ${to.port}`);
            }
            await command(to.port, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
            await command(from.port, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
          },
          async moveKeys() {
            const moved: string[] = [];
            for (;;) {
              const keys = (await command(
                source().port,
                'CLUSTER',
                'GETKEYSINSLOT',
                slot,
                100,
              )) as string[];
              if (keys.length === 0) {
                return moved;
              }
              await command(source().port, 'MIGRATE', HOST, to.port, '', 0, 5_000, 'KEYS', ...keys);
              moved.push(...keys);
            }
          },
          async assign() {
            const others = nodes.filter((node) => node.id !== to.id && node.id !== source().id);
            for (const node of [to, source(), ...others]) {
              await command(node.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
            }
          },
        };
      },
      stop: () => stopAll(servers, dir),
    };
  } catch (error) {
    await stopAll(servers, dir);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// A switchable endpoint (a DNS name or cloud "primary endpoint" that moves on failover)
// ---------------------------------------------------------------------------------------------

/**
 * A TCP forwarder whose target can be switched: new connections go to the current target,
 * connections already open stay where they are — like a DNS-based primary endpoint after a
 * failover, where a long-lived connection keeps talking to the demoted server.
 */
export class SwitchableEndpoint {
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  port = 0;

  private constructor(private targetPort: number) {}

  static async start(targetPort: number): Promise<SwitchableEndpoint> {
    const endpoint = new SwitchableEndpoint(targetPort);
    endpoint.server = createServer((client) => endpoint.accept(client));
    await new Promise<void>((resolve, reject) => {
      endpoint.server.once('error', reject);
      endpoint.server.listen(0, HOST, () => resolve());
    });
    endpoint.port = (endpoint.server.address() as AddressInfo).port;
    return endpoint;
  }

  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  /** Sends new connections to `port` from now on. */
  switchTo(port: number): void {
    this.targetPort = port;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = new Socket();
    this.sockets.add(client);
    this.sockets.add(upstream);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    upstream.connect(this.targetPort, HOST, () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }
}
