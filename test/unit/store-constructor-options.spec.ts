// A built-in store built by hand checks its options as the module checks its own: a misspelt key
// (`keyprefix`, `tabel`) left the store on the default namespace or table, so apps meant to be
// apart shared their locks without a word; options that are not an object failed with a bare
// TypeError; and a logger without log, error and warn lost every line the store writes.
import { Redis } from 'ioredis';
import { CronLockConfigError, MemoryLockStore, RedisLockStore } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../support/redis.js';

/** Names no reachable server: the constructors connect to nothing. */
const DATABASE_URL = 'postgres://app:s3cret-pw@db.invalid:5432/app';

const clients: Redis[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

function lazyClient(): Redis {
  const client = new Redis(testRedisUrl(), { lazyConnect: true });
  clients.push(client);
  return client;
}

const build: Record<'RedisLockStore' | 'PostgresLockStore', (options: unknown) => unknown> = {
  RedisLockStore: (options) => new RedisLockStore(lazyClient(), options as never),
  PostgresLockStore: (options) => new PostgresLockStore(DATABASE_URL, options as never),
};

function thrownBy(construct: () => unknown): Error {
  let caught: unknown;
  try {
    const store = construct() as { close?: () => Promise<void> };
    void store.close?.();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CronLockConfigError);
  return caught as Error;
}

describe('the built-in stores refuse options they do not know', () => {
  it.each<[keyof typeof build, Record<string, unknown>, string, string]>([
    ['RedisLockStore', { keyprefix: 'app-a', logger: false }, 'keyprefix', 'keyPrefix'],
    ['RedisLockStore', { KeyPrefix: 'app-a', logger: false }, 'KeyPrefix', 'keyPrefix'],
    ['PostgresLockStore', { tabel: 'app_a_locks', logger: false }, 'tabel', 'table'],
    ['PostgresLockStore', { Schema: 'app_a', logger: false }, 'Schema', 'schema'],
  ])('%s with %j fails naming the key and the one meant', (store, options, key, meant) => {
    const { message } = thrownBy(() => build[store](options));
    expect(message).toMatch(new RegExp(`^${store}(\\.constructor)?: unknown option`));
    expect(message).toContain(`unknown option ${key} `);
    expect(message).toContain(`did you mean ${meant}?`);
    expect(message).toContain(`Fix: rename it to ${meant}`);
  });

  it.each<keyof typeof build>(['RedisLockStore', 'PostgresLockStore'])(
    '%s with a key near none lists the options',
    (store) => {
      const { message } = thrownBy(() => build[store]({ poolSize: 5, logger: false }));
      expect(message).toContain('unknown option poolSize');
      expect(message).toContain('Fix: remove it');
      expect(message).toContain('logger');
    },
  );

  it.each<[keyof typeof build, unknown]>([
    ['RedisLockStore', null],
    ['RedisLockStore', 'app-a'],
    ['RedisLockStore', 42],
    ['PostgresLockStore', null],
    ['PostgresLockStore', 'app_a_locks'],
    ['PostgresLockStore', [{ table: 'locks' }]],
  ])('%s with options %j that are not an object fails naming the fix', (store, options) => {
    const { message } = thrownBy(() => build[store](options));
    expect(message).toMatch(new RegExp(`^${store}(\\.constructor)?: `));
    expect(message).toContain('must be an object');
    expect(message).toContain('Fix:');
  });

  it.each<[keyof typeof build, unknown]>([
    ['RedisLockStore', {}],
    ['RedisLockStore', true],
    ['RedisLockStore', { log: () => undefined, error: () => undefined }],
    ['PostgresLockStore', {}],
    ['PostgresLockStore', 'console'],
  ])('%s with logger %j, which would lose its lines, fails naming it', (store, logger) => {
    const { message } = thrownBy(() => build[store]({ logger }));
    expect(message).toContain(
      'option logger must be a Nest LoggerService (log, error, warn) or false',
    );
    expect(message).toContain('Fix:');
  });

  it('hides the connection string of a PostgreSQL store it refuses', () => {
    const { message } = thrownBy(() => build.PostgresLockStore({ tabel: 'x' }));
    expect(message).not.toContain('s3cret-pw');
  });

  // A clock is its only argument: an options object (as the other stores take) made every
  // acquire of every job fail at run time with "this.now is not a function".
  it.each<unknown>([{ keyPrefix: 'app-a' }, 'app-a', 0])(
    'MemoryLockStore given %j instead of a clock fails when built',
    (argument) => {
      const { message } = thrownBy(() => new MemoryLockStore(argument as never));
      expect(message).toMatch(/^MemoryLockStore: /);
      expect(message).toContain('Fix: new MemoryLockStore()');
    },
  );

  it('still takes the options and the clock it knows', async () => {
    const redis = new RedisLockStore(lazyClient(), {
      keyPrefix: 'app-a',
      logger: { log: () => undefined, error: () => undefined, warn: () => undefined },
      scriptTransport: 'plain',
    });
    expect(redis.keysOf('job').lock).toBe('app-a:{job}:lock');
    const postgres = new PostgresLockStore(DATABASE_URL, {
      schema: 'app_a',
      table: 'locks',
      createTable: false,
      operationTimeout: 500,
      preparedStatements: false,
      logger: false,
    });
    expect(postgres.tableName).toBe('app_a.locks');
    await postgres.close();
    let now = 1_000;
    const memory = new MemoryLockStore(() => now);
    const token = 'a'.repeat(32);
    expect((await memory.acquire({ name: 'job', token, ttl: 100, instanceId: 'i' })).acquired).toBe(
      true,
    );
    now += 200;
    expect(
      (await memory.acquire({ name: 'job', token: 'b'.repeat(32), ttl: 100, instanceId: 'i' }))
        .acquired,
    ).toBe(true);
  });
});
