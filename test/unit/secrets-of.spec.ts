import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { secretsOfConnectionString } from '../../lib/stores/postgres/postgres-errors.js';
import { secretsOf } from '../../lib/stores/redis/redis-connection.js';
import { loadOtherIoredis } from '../support/other-ioredis.js';

// Every secret a connection input can carry is collected, so store errors can be scrubbed of it
// even when the server or ioredis echoes it back.
describe('secretsOf', () => {
  it('reads the password of a URL, raw and decoded', () => {
    expect(secretsOf('redis://user:p%40ss@127.0.0.1:1')).toEqual(['p@ss', 'p%40ss']);
  });

  it('reads a password given as a query parameter of the URL', () => {
    expect(secretsOf('redis://127.0.0.1:1?password=q-secret&sentinelPassword=s-secret')).toEqual([
      'q-secret',
      's-secret',
    ]);
  });

  it('reads password, Sentinel password and TLS passphrase from options', () => {
    expect(
      secretsOf({
        url: 'rediss://:from-url@127.0.0.1:1',
        sentinelPassword: 'sentinel-secret',
        tls: { passphrase: 'key-passphrase' },
      }),
    ).toEqual(['from-url', 'from-url', 'sentinel-secret', 'key-passphrase']);
  });

  it('reads the password of a client passed in', () => {
    const client = new Redis({ lazyConnect: true, password: 'client-secret' });
    expect(secretsOf(client)).toEqual(['client-secret']);
    client.disconnect();
  });

  it("reads the nodes' password of a Cluster passed in", () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], {
      lazyConnect: true,
      redisOptions: { password: 'node-secret', sentinelPassword: 'unused-but-secret' },
    });
    expect(secretsOf(cluster)).toEqual(['node-secret', 'unused-but-secret']);
    cluster.disconnect();
  });

  it("reads the nodes' password of a Cluster made by another copy of ioredis", () => {
    const other = loadOtherIoredis();
    try {
      const cluster = new other.ioredis.Cluster([{ host: '127.0.0.1', port: 1 }], {
        lazyConnect: true,
        redisOptions: { password: 'node-secret' },
      });
      expect(secretsOf(cluster as unknown as Cluster)).toEqual(['node-secret']);
      cluster.disconnect();
    } finally {
      other.remove();
    }
  });
});

describe('secretsOfConnectionString', () => {
  it('reads a password given as a query parameter of the URL', () => {
    const url = 'postgres://app@127.0.0.1:1/app?password=q-secret&sslpassword=k-secret';
    expect(secretsOfConnectionString(url)).toEqual([url, 'q-secret', 'k-secret']);
  });
});
