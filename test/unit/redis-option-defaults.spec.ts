// ioredis options for the client the module (or a store) creates, with a setting the lock
// defaults fill in present but undefined, as `config.get('REDIS_COMMAND_TIMEOUT')` gives with the
// variable unset: the spread over LOCK_CLIENT_DEFAULTS put ioredis' own default back (no command
// timeout, an offline queue, 20 retries, resent commands), the very settings the lock defaults
// rule out, without a word. The same for the connection settings an app reads from its
// environment (port, db, credentials, the Sentinel ones): present but empty, ioredis took its own
// default in their place (its default port, database 0, no password), and the locks of an app meant to be
// apart landed with another's. And the timeouts the module builds the client with, or keeps its own
// timers by: beyond what a Node.js timer holds (30 days), a timer fires after 1 ms, so every
// command timed out and every run was skipped.
import { createServer, type AddressInfo } from 'node:net';
import { Test } from '@nestjs/testing';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import {
  CronLockConfigError,
  CronLockModule,
  LOCK_CLIENT_DEFAULTS,
  MAX_DURATION_MS,
  RedisLockStore,
} from 'nestjs-cron-lock';
import { afterEach, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../support/redis.js';

/** Every setting the lock defaults give a value of their own, and `lazyConnect` the module sets. */
const DEFAULTED = [...Object.keys(LOCK_CLIENT_DEFAULTS), 'lazyConnect'];

/** The connection settings an app sets from its environment, which ioredis defaults when empty. */
const CONNECTION = ['port', 'db', 'username', 'password'];

/** The settings ioredis reads only with `sentinels` (and ignores beside a host, a path or a URL). */
const SENTINEL_ONLY = ['name', 'sentinelUsername', 'sentinelPassword'];

/** What an unset or empty variable gives, and how the message names it (never its text). */
const EMPTY: Array<[string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['an empty string', ''],
  ['a blank string', '  '],
];

/** Every connection setting with every empty value. */
const CONNECTION_EMPTY = CONNECTION.flatMap((key) =>
  EMPTY.map(([label, value]) => [key, label, value] as const),
);

/** The same for the Sentinel-only settings. */
const SENTINEL_ONLY_EMPTY = SENTINEL_ONLY.flatMap((key) =>
  EMPTY.map(([label, value]) => [key, label, value] as const),
);

/** `{ host, port }` of the test server. */
function hostAndPort(): { host: string; port: number } {
  const url = new URL(testRedisUrl());
  return { host: url.hostname, port: Number(url.port) };
}

/** The test server's URL with `path` (`/2`, `/?db=abc`) in place of its own path and query. */
function urlWith(path: string): string {
  return new URL(path, testRedisUrl()).toString();
}

/** Built, or the error it threw; a store built (on a lenient release) is closed. */
function storeError(redis: unknown): unknown {
  try {
    const store = new RedisLockStore(redis as never, { logger: false });
    void store.close();
    return undefined;
  } catch (error) {
    return error;
  }
}

async function initError(redis: unknown): Promise<unknown> {
  return Test.createTestingModule({
    imports: [CronLockModule.forRoot({ redis: redis as never, logger: false })],
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

describe('ioredis options with a lock default present but undefined', () => {
  it.each(DEFAULTED)('fails app.init() for redis: { url, %s: undefined }', async (key) => {
    const error = await initError({ url: testRedisUrl(), [key]: undefined });

    expect(error).toBeInstanceOf(CronLockConfigError);
    expect((error as Error).message).toMatch(
      new RegExp(`^CronLockModule: option redis\\.${key} is undefined.*Fix: `),
    );
  });

  it.each(DEFAULTED)('refuses new RedisLockStore({ host, %s: undefined })', (key) => {
    expect(
      () => new RedisLockStore({ host: '127.0.0.1', port: 1, [key]: undefined }, { logger: false }),
    ).toThrow(new RegExp(`^RedisLockStore: argument redis\\.${key} is undefined.*Fix: `));
  });

  it('still takes a value set on purpose, null included (maxRetriesPerRequest: null retries forever)', async () => {
    const store = new RedisLockStore(
      { url: testRedisUrl(), maxRetriesPerRequest: null, commandTimeout: 500 },
      { logger: false },
    );
    const options = store.client.options as RedisOptions;
    expect(options.maxRetriesPerRequest).toBeNull();
    expect(options.commandTimeout).toBe(500);
    expect(options.enableOfflineQueue).toBe(false);
    expect(await store.ping()).toBeGreaterThanOrEqual(0);
    await store.close();
  });
});

describe('ioredis connection settings present but empty', () => {
  const PASSWORD = 'hunter2-lock-pw';

  it.each(CONNECTION_EMPTY)(
    'fails app.init() for redis: { host, port, %s: %s }, naming it and never the password',
    async (key, label, value) => {
      const url = new URL(testRedisUrl());
      const base = { host: url.hostname, port: Number(url.port), password: PASSWORD };
      const error = await initError({ ...base, [key]: value });

      expect(error).toBeInstanceOf(CronLockConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(
        new RegExp(`^CronLockModule: option redis\\.${key} is ${label}[ ,].*Fix: `),
      );
      expect(message).not.toContain(PASSWORD);
    },
  );

  it.each(CONNECTION_EMPTY)(
    'refuses new RedisLockStore({ url, %s: %s }) before it creates a client',
    (key, label, value) => {
      const error = storeError({ url: testRedisUrl(), [key]: value });

      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toMatch(
        new RegExp(`^RedisLockStore: argument redis\\.${key} is ${label}[ ,].*Fix: `),
      );
    },
  );

  it.each<[string, Record<string, unknown>, string]>([
    [
      'a Sentinel host',
      { sentinels: [{ host: undefined, port: 26379 }], name: 'mymaster' },
      'sentinels\\[0\\]\\.host is undefined',
    ],
    [
      'a Sentinel port',
      { sentinels: [{ host: 'sentinel-1', port: '' }], name: 'mymaster' },
      'sentinels\\[0\\]\\.port is an empty string',
    ],
    [
      "the second Sentinel's host",
      {
        sentinels: [
          { host: 'sentinel-1', port: 26379 },
          { host: null, port: 26379 },
        ],
        name: 'mymaster',
      },
      'sentinels\\[1\\]\\.host is null',
    ],
    [
      'the master name',
      { sentinels: [{ host: 'sentinel-1', port: 26379 }], name: undefined },
      'name is undefined',
    ],
    [
      'the Sentinel password',
      { sentinels: [{ host: 'sentinel-1', port: 26379 }], name: 'm', sentinelPassword: '' },
      'sentinelPassword is an empty string',
    ],
  ])('refuses Sentinel options with %s present but empty', (_label, redis, named) => {
    const error = storeError(redis);

    expect(error).toBeInstanceOf(CronLockConfigError);
    expect((error as Error).message).toMatch(
      new RegExp(`^RedisLockStore: argument redis\\.${named}[ ,].*Fix: `),
    );
  });

  it.each(SENTINEL_ONLY_EMPTY)(
    'refuses redis: { sentinels, %s: %s } naming it, and what ioredis would do with Sentinels',
    (key, label, value) => {
      const base = { sentinels: [{ host: 'sentinel-1', port: 26379 }], name: 'mymaster' };
      const error = storeError({ ...base, [key]: value });

      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toMatch(
        new RegExp(`^RedisLockStore: argument redis\\.${key} is ${label}[ ,].*Sentinel.*Fix: `),
      );
    },
  );

  it.each<[string, Record<string, unknown>]>([
    ['name on a host', { name: undefined }],
    ['sentinelUsername on a host', { sentinelUsername: null }],
    ['sentinelPassword on a host', { sentinelPassword: '' }],
  ])('leaves %s to ioredis, which reads it only with sentinels', (_label, extra) => {
    expect(storeError({ ...hostAndPort(), ...extra })).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>]>([
    ['a socket path', { path: '/nonexistent/redis.sock', port: undefined }],
    [
      'sentinels',
      { sentinels: [{ host: 'sentinel-1', port: 26379 }], name: 'mymaster', port: Number.NaN },
    ],
  ])('leaves a top-level port beside %s to ioredis, which ignores it there', (_label, redis) => {
    expect(storeError(redis)).toBeUndefined();
  });

  it('names the URL, not a default, for a setting the URL may give ({ url, db: undefined })', () => {
    const error = storeError({ url: urlWith('/2'), db: undefined });

    expect(error).toBeInstanceOf(CronLockConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^RedisLockStore: argument redis\.db is undefined.*the URL.*Fix: /);
    expect(message).not.toMatch(/would use database 0 instead/);
  });

  it('names the URL for a password it may give ({ url: redis://:pw@h, password: undefined })', () => {
    const url = new URL(testRedisUrl());
    url.password = 'hunter2-url-pw';
    const error = storeError({ url: url.toString(), password: undefined });

    expect(error).toBeInstanceOf(CronLockConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^RedisLockStore: argument redis\.password is undefined.*the URL/);
    expect(message).not.toMatch(/would connect without a password/);
    expect(message).not.toContain('hunter2-url-pw');
  });

  it('says a null or blank port fails to connect, not that it falls back to 6379', () => {
    for (const port of [null, '']) {
      const error = storeError({ host: '127.0.0.1', port });

      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toMatch(/^RedisLockStore: argument redis\.port is .*Fix: /);
      expect((error as Error).message).not.toContain('6379');
    }
  });

  it('still takes the settings when set, database 0 included', async () => {
    const url = new URL(testRedisUrl());
    const store = new RedisLockStore(
      { host: url.hostname, port: Number(url.port), db: 0, name: 'app' },
      { logger: false },
    );
    expect((store.client.options as RedisOptions).db).toBe(0);
    expect(await store.ping()).toBeGreaterThanOrEqual(0);
    await store.close();
  });
});

describe('ioredis database and port that are not numbers ioredis can use', () => {
  it.each<[string, unknown]>([
    ['Number(undefined)', Number(undefined)],
    ['-1', -1],
    ['1.5', 1.5],
    ["'abc'", 'abc'],
    ["'2x'", '2x'],
  ])('fails app.init() for redis: { host, port, db: %s }, naming it', async (_label, db) => {
    const error = await initError({ ...hostAndPort(), db });

    expect(error).toBeInstanceOf(CronLockConfigError);
    expect((error as Error).message).toMatch(
      /^CronLockModule: option redis\.db must be a database number.*Fix: /,
    );
  });

  it.each<[string, unknown]>([
    ['Number(undefined)', Number(undefined)],
    ['1.5', 1.5],
    ['70000', 70_000],
    ["'63x'", '63x'],
  ])('refuses new RedisLockStore({ host, port: %s }), naming it', (_label, port) => {
    const error = storeError({ host: '127.0.0.1', port });

    expect(error).toBeInstanceOf(CronLockConfigError);
    expect((error as Error).message).toMatch(
      /^RedisLockStore: argument redis\.port must be a port number.*Fix: /,
    );
  });

  it.each(['/?db=abc', '/abc'])('fails app.init() for a URL whose database is %s', async (path) => {
    for (const redis of [urlWith(path), { url: urlWith(path) }]) {
      const error = await initError(redis);

      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toMatch(
        /^CronLockModule: option redis(\.url)? \(its db\) must be a database number.*Fix: /,
      );
    }
  });

  it('still takes a database given as an integer string, in options and in the URL', async () => {
    // ' 3\n': read from a file, blanks and all; ioredis' parseInt reads it as 3.
    for (const redis of [
      { ...hostAndPort(), db: '3' },
      { ...hostAndPort(), db: ' 3\n' },
      urlWith('/3'),
    ]) {
      const store = new RedisLockStore(redis as never, { logger: false });
      try {
        expect((store.client.options as RedisOptions).db).toBe(3);
        expect(await store.ping()).toBeGreaterThanOrEqual(0);
      } finally {
        await store.close();
      }
    }
  });
});

describe('ioredis timeouts beyond what a timer holds', () => {
  const THIRTY_DAYS = 30 * 86_400_000;
  /** Wrong for either timeout: too long, negative, not a number, or no value. */
  const WRONG: Array<[string, unknown]> = [
    ['30 days', THIRTY_DAYS],
    ['one past the timer limit', MAX_DURATION_MS + 1],
    ['negative', -1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ["a string ('2000')", '2000'],
  ];
  const clients: Array<Redis | Cluster> = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });

  it.each([
    ...WRONG,
    ['0 (every command would time out at once)', 0],
    ['null (ioredis arms no timeout)', null],
  ])('fails app.init() for redis: { url, commandTimeout: %s }', async (_label, commandTimeout) => {
    const error = await initError({ url: testRedisUrl(), commandTimeout });

    expect(error).toBeInstanceOf(CronLockConfigError);
    expect((error as Error).message).toMatch(
      /^CronLockModule: option redis\.commandTimeout must be .*2147483647.*Fix: /,
    );
  });

  it.each(WRONG)('fails app.init() for redis: { url, connectTimeout: %s }', async (_l, value) => {
    const error = await initError({ url: testRedisUrl(), connectTimeout: value });

    expect(error).toBeInstanceOf(CronLockConfigError);
    expect((error as Error).message).toMatch(
      /^CronLockModule: option redis\.connectTimeout must be .*2147483647.*Fix: /,
    );
  });

  it.each(['commandTimeout', 'connectTimeout'])(
    'refuses new RedisLockStore({ host, %s: 30 days }) before it creates a client',
    (key) => {
      const error = storeError({ host: '127.0.0.1', port: 1, [key]: THIRTY_DAYS });

      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toMatch(
        new RegExp(`^RedisLockStore: argument redis\\.${key} must be .*Fix: `),
      );
    },
  );

  it('fails app.init() for a client passed in whose commandTimeout is 30 days', async () => {
    const client = new Redis(testRedisUrl(), { lazyConnect: true, commandTimeout: THIRTY_DAYS });
    clients.push(client);
    const error = await initError(client);

    expect(error).toBeInstanceOf(CronLockConfigError);
    expect((error as Error).message).toMatch(
      /^CronLockModule: option redis is an ioredis client whose commandTimeout is 2592000000.*Fix: /,
    );
  });

  it('refuses a Cluster client whose redisOptions.commandTimeout is 0', () => {
    const url = new URL(testRedisUrl());
    const cluster = new Cluster([{ host: url.hostname, port: Number(url.port) }], {
      lazyConnect: true,
      redisOptions: { commandTimeout: 0 },
    });
    clients.push(cluster);
    const error = storeError(cluster);

    expect(error).toBeInstanceOf(CronLockConfigError);
    expect((error as Error).message).toMatch(
      /^RedisLockStore: argument redis is an ioredis client whose redisOptions\.commandTimeout is 0.*Fix: /,
    );
  });

  it('says why a null commandTimeout is refused: ioredis would time out no command', async () => {
    const error = await initError({ url: testRedisUrl(), commandTimeout: null });

    expect((error as Error).message).toMatch(/got null: .*arms no timeout for null/);
  });

  it.each<[string, string | Record<string, unknown>]>([
    ['redis://h?commandTimeout=2592000000', '/?commandTimeout=2592000000'],
    ["{ url: 'redis://h?commandTimeout=0' }", '/?commandTimeout=0'],
    ["{ url: 'redis://h?connectTimeout=5000' }", '/?connectTimeout=5000'],
  ])(
    'fails app.init() for a timeout in the URL, %s (ioredis keeps it as text)',
    async (label, path) => {
      const redis = label.startsWith('{')
        ? { url: urlWith(path as string) }
        : urlWith(path as string);
      const error = await initError(redis);

      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toMatch(
        /^CronLockModule: option redis(\.url)? \(its (command|connect)Timeout\) must be .*Fix: /,
      );
    },
  );

  it('reads the URL without connecting: a refused store opens no socket, with lazyConnect false too', async () => {
    // A server that counts connections: the check's own reading of the options (a client ioredis
    // builds and drops, never connected) must not reach it.
    let connections = 0;
    const server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const sockets = (): number =>
        process.getActiveResourcesInfo().filter((name) => name.startsWith('TCP')).length;
      const before = sockets();
      for (const redis of [
        `redis://127.0.0.1:${port}?commandTimeout=0`,
        { url: `redis://127.0.0.1:${port}?commandTimeout=0`, lazyConnect: false },
        {
          sentinels: [{ host: '127.0.0.1', port }],
          name: 'mymaster',
          commandTimeout: Number.NaN,
          lazyConnect: false,
        },
      ]) {
        expect(() => new RedisLockStore(redis as never, { logger: false })).toThrow(
          CronLockConfigError,
        );
      }
      expect(sockets()).toBe(before);
      await new Promise((resolve) => setImmediate(resolve));
      expect(connections).toBe(0);
      expect(sockets()).toBe(before);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('takes both timeouts up to the timer limit, and connectTimeout 0 or null (none, as ioredis reads them)', async () => {
    for (const connectTimeout of [0, null, MAX_DURATION_MS]) {
      const store = new RedisLockStore(
        { url: testRedisUrl(), commandTimeout: MAX_DURATION_MS, connectTimeout } as never,
        { logger: false },
      );
      try {
        const options = store.client.options as RedisOptions;
        expect(options.commandTimeout).toBe(MAX_DURATION_MS);
        expect(options.connectTimeout).toBe(connectTimeout);
        expect(await store.ping()).toBeGreaterThanOrEqual(0);
      } finally {
        await store.close();
      }
    }
  });
});
