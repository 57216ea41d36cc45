// The key prefix of a RedisLockStore built by hand is checked as the module's is: a prefix with
// braces would put every job in one Cluster slot, and glob or blank characters break the ACL key
// pattern and the CLI's SCAN.
import { Redis } from 'ioredis';
import { CronLockConfigError, RedisLockStore } from 'nestjs-cron-lock';
import { afterEach, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../support/redis.js';

describe('RedisLockStore options', () => {
  const clients: Redis[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });

  function lazyClient(): Redis {
    const client = new Redis(testRedisUrl(), { lazyConnect: true });
    clients.push(client);
    return client;
  }

  it.each<[string, unknown]>([
    ['braces and a glob', 'app{shared}*'],
    ['a space', 'my app'],
    ['a newline', 'app\n'],
    ['a question mark', 'app?'],
    ['nothing', ''],
    ['65 characters', 'x'.repeat(65)],
    ['a number', 42],
    ['null', null],
  ])(
    'rejects a keyPrefix with %s, naming the store, the option and the fix',
    (_label, keyPrefix) => {
      let caught: unknown;
      try {
        new RedisLockStore(lazyClient(), { keyPrefix: keyPrefix as string, logger: false });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CronLockConfigError);
      const message = (caught as Error).message;
      expect(message).toContain('RedisLockStore');
      expect(message).toContain('option keyPrefix');
      expect(message).toContain('A-Z a-z 0-9 . _ : -');
      expect(message).toContain('Fix:');
    },
  );

  it.each(['keyPrefix', 'logger', 'scriptTransport'])(
    'rejects %s present but undefined instead of taking its default',
    (option) => {
      expect(() => new RedisLockStore(lazyClient(), { [option]: undefined })).toThrow(
        CronLockConfigError,
      );
      expect(() => new RedisLockStore(lazyClient(), { [option]: undefined })).toThrow(
        new RegExp(`RedisLockStore: option ${option} .*Fix:`),
      );
    },
  );

  it('rejects a bad keyPrefix before it creates a client of its own', () => {
    const before = process.getActiveResourcesInfo().filter((kind) => kind === 'TCPWRAP').length;
    expect(() => new RedisLockStore(testRedisUrl(), { keyPrefix: 'a b', logger: false })).toThrow(
      CronLockConfigError,
    );
    const after = process.getActiveResourcesInfo().filter((kind) => kind === 'TCPWRAP').length;
    expect(after).toBe(before);
  });

  // `new RedisLockStore(process.env.REDIS_URL)` with the variable unset: ioredis takes what
  // names no server as its default server on localhost, which on a fleet is one lock per pod.
  // Nothing here connects: each input is refused before a client exists.
  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['an empty string', ''],
    ['a blank string', '  '],
    ['a URL with no host', 'redis://'],
    ['a URL with only a database', 'redis:///0'],
    ['a URL with only a password', 'redis://:s3cret-pw@'],
    ['a host without a scheme', 'redis.internal'],
    ['no options at all', {}],
    ['an undefined url', { url: undefined }],
    ['an empty host', { host: '' }],
    ['a port alone', { port: 0 }],
    ['a number', 42],
  ])(
    'rejects a connection that names no server (%s) before it creates a client',
    (_label, input) => {
      const before = process.getActiveResourcesInfo().filter((kind) => kind === 'TCPWRAP').length;
      let caught: unknown;
      try {
        const store = new RedisLockStore(input as string, { logger: false });
        void store.close();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CronLockConfigError);
      const message = (caught as Error).message;
      expect(message).toMatch(/^RedisLockStore: /);
      expect(message).toContain('Fix:');
      expect(message).not.toContain('s3cret-pw');
      expect(message).not.toContain('CronLockModule');
      const after = process.getActiveResourcesInfo().filter((kind) => kind === 'TCPWRAP').length;
      expect(after).toBe(before);
    },
  );

  it('accepts the prefixes the module accepts', () => {
    for (const keyPrefix of ['cron-lock', 'app.v2:prod_1-a', 'x'.repeat(64)]) {
      const store = new RedisLockStore(lazyClient(), { keyPrefix, logger: false });
      expect(store.keysOf('job').lock.startsWith(`${keyPrefix}:{job}:`)).toBe(true);
    }
  });
});
