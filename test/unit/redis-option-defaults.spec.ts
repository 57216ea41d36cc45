// ioredis options for the client the module (or a store) creates, with a setting the lock
// defaults fill in present but undefined, as `config.get('REDIS_COMMAND_TIMEOUT')` gives with the
// variable unset: the spread over LOCK_CLIENT_DEFAULTS put ioredis' own default back (no command
// timeout, an offline queue, 20 retries, resent commands), the very settings the lock defaults
// rule out, without a word. The same for the connection settings an app reads from its
// environment (port, db, credentials, the Sentinel ones): present but empty, ioredis took its own
// default in their place (port 6379, database 0, no password), and the locks of an app meant to be
// apart landed with another's. And the timeouts the module builds the client with, or keeps its own
// timers by: beyond what a Node.js timer holds (30 days), a timer fires after 1 ms, so every
// command timed out and every run was skipped.
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
const CONNECTION = [
  'port',
  'db',
  'username',
  'password',
  'sentinelUsername',
  'sentinelPassword',
  'name',
];

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
    ['null', null],
  ];
  const clients: Array<Redis | Cluster> = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });

  it.each([...WRONG, ['0 (every command would time out at once)', 0]])(
    'fails app.init() for redis: { url, commandTimeout: %s }',
    async (_label, commandTimeout) => {
      const error = await initError({ url: testRedisUrl(), commandTimeout });

      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toMatch(
        /^CronLockModule: option redis\.commandTimeout must be .*2147483647.*Fix: /,
      );
    },
  );

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

  it('takes both timeouts up to the timer limit, and connectTimeout 0 (none, as ioredis reads it)', async () => {
    for (const connectTimeout of [0, MAX_DURATION_MS]) {
      const store = new RedisLockStore(
        { url: testRedisUrl(), commandTimeout: MAX_DURATION_MS, connectTimeout },
        { logger: false },
      );
      const options = store.client.options as RedisOptions;
      expect(options.commandTimeout).toBe(MAX_DURATION_MS);
      expect(options.connectTimeout).toBe(connectTimeout);
      expect(await store.ping()).toBeGreaterThanOrEqual(0);
      await store.close();
    }
  });
});
