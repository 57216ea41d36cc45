// A Redis Cluster has only database 0. ioredis drops the database of a Cluster's startup node
// (`redis://host:port/2`, `{ host, port, db: 2 }`) without a word, and a node that answers its
// `redisOptions.db` `SELECT` with a refusal is used on database 0 all the same: two apps or
// environments told apart by their database then share one another's locks.
import { Test } from '@nestjs/testing';
import { Cluster, type ClusterNode, type ClusterOptions } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  LOCK_CLUSTER_DEFAULTS,
  RedisLockStore,
} from 'nestjs-cron-lock';

const clusters: Cluster[] = [];

/** A Cluster client that connects on its first command only: nothing here may reach a server. */
function lazyCluster(nodes: ClusterNode[], options: ClusterOptions = {}): Cluster {
  const cluster = new Cluster(nodes, {
    ...LOCK_CLUSTER_DEFAULTS,
    ...options,
    redisOptions: { ...LOCK_CLUSTER_DEFAULTS.redisOptions, ...options.redisOptions },
    lazyConnect: true,
    clusterRetryStrategy: () => null,
  });
  cluster.on('error', () => undefined);
  clusters.push(cluster);
  return cluster;
}

async function initError(redis: Cluster): Promise<unknown> {
  return Test.createTestingModule({
    imports: [CronLockModule.forRoot({ redis, logger: false })],
  })
    .compile()
    .then(async (moduleRef) => {
      await moduleRef.init();
      await moduleRef.close();
    })
    .then(
      () => undefined,
      (caught: unknown) => caught,
    );
}

afterEach(() => {
  for (const cluster of clusters.splice(0)) {
    cluster.disconnect();
  }
});

// Port 1: never connected to, the check needs no server.
const WITH_DATABASE: Array<[shape: string, make: () => Cluster, names: RegExp]> = [
  [
    'a startup node URL with /2',
    () => lazyCluster(['redis://:s3cret-pass@127.0.0.1:1/2']),
    /startup node 127\.0\.0\.1:1 names database 2/,
  ],
  [
    'a startup node URL with ?db=3',
    () => lazyCluster(['redis://127.0.0.1:1?db=3']),
    /startup node 127\.0\.0\.1:1 names database 3/,
  ],
  [
    'a startup node { host, port, db: 2 }',
    () => lazyCluster([{ host: '127.0.0.1', port: 1, db: 2 } as ClusterNode]),
    /startup node 127\.0\.0\.1:1 names database 2/,
  ],
  [
    'redisOptions.db: 2',
    () => lazyCluster([{ host: '127.0.0.1', port: 1 }], { redisOptions: { db: 2 } }),
    /redisOptions\.db names database 2/,
  ],
];

describe('a Cluster client that names a database other than 0', () => {
  it.each(WITH_DATABASE)(
    'fails app.init() for %s, naming the option and the fix',
    async (_shape, make, names) => {
      const cluster = make();

      const error = await initError(cluster);

      expect(error).toBeInstanceOf(CronLockConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/^CronLockModule: option redis is a Cluster client whose /);
      expect(message).toMatch(names);
      expect(message).toContain('a Redis Cluster has only database 0');
      expect(message).toMatch(/Fix: .*keyPrefix/);
      expect(message).not.toContain('s3cret-pass');
      // Refused before any connection was opened.
      expect(cluster.status).toBe('wait');
    },
  );

  it.each(WITH_DATABASE)('refuses new RedisLockStore(cluster) for %s', (_shape, make, names) => {
    const cluster = make();

    expect(() => new RedisLockStore(cluster, { logger: false })).toThrow(CronLockConfigError);
    expect(() => new RedisLockStore(cluster, { logger: false })).toThrow(
      /^RedisLockStore: argument redis is a Cluster client whose .*Fix: /,
    );
    expect(() => new RedisLockStore(cluster, { logger: false })).toThrow(names);
  });

  it('takes database 0 written out, and no database at all', async () => {
    for (const cluster of [
      lazyCluster(['redis://127.0.0.1:1/0']),
      lazyCluster(['redis://127.0.0.1:1?db=0']),
      lazyCluster([{ host: '127.0.0.1', port: 1, db: 0 } as ClusterNode]),
      lazyCluster([{ host: '127.0.0.1', port: 1 }], { redisOptions: { db: 0 } }),
      lazyCluster(['redis://127.0.0.1:1', 1, { host: '127.0.0.1', port: 1 }]),
    ]) {
      const store = new RedisLockStore(cluster, { logger: false });
      await store.close();
      expect(cluster.status).toBe('wait');
    }
  });
});
