// Tracing tools (OpenTelemetry's pg instrumentation, Datadog's tracer) wrap each connection's
// `query` and pass pg a copy of the query's configuration made with an object spread, which keeps
// its own properties only. The store's calls must carry everything pg reads as their own.
import { createRequire } from 'node:module';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { newToken } from '../contract/lock-store.contract.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { recordRun } from '../support/recorded-run.js';

const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

/** A plain lock taken, renewed and released, then a recorded run read back from the history. */
async function takesRenewsAndReleases(store: PostgresLockStore): Promise<void> {
  const lock = { name: 'plain', token: newToken(), ttl: 60_000, instanceId: 'a' };
  expect(await store.acquire(lock)).toMatchObject({ acquired: true });
  expect(await store.renew(lock)).toEqual({ renewed: true });
  expect(await store.release(lock)).toBe(true);

  await recordRun(store, { name: 'job', scheduledAt: OCCURRENCE, historySize: 5 });
  expect(await store.history('job', 5)).toEqual([
    expect.objectContaining({ scheduledAt: OCCURRENCE, outcome: 'completed' }),
  ]);
}

/**
 * A pool whose connections' `query` passes pg a spread copy of each object it is given, as a
 * tracing tool that copies the call does: own properties only, no prototype.
 */
function spreadingPool(): pg.Pool {
  const pool = newPool();
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) =>
      query(typeof config === 'object' && config !== null ? { ...config } : config, ...rest);
  });
  cleanup.push(() => pool.end());
  return pool;
}

describe('PostgresLockStore on a pool whose query is wrapped by a tracing tool', () => {
  it('takes, renews and releases locks, plain and recorded, when the wrapper spreads each call', async () => {
    const pool = spreadingPool();
    const table = uniqueTable('wrapped');
    cleanup.push(() => dropTable(pool, table));
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());

    await takesRenewsAndReleases(store);
  });
});

/**
 * A pool made by a second copy of pg, as an app or a library beside it may load (another version,
 * or a duplicate install): its classes are not the ones the store imports.
 */
function poolOfAnotherCopy(options: pg.PoolConfig): pg.Pool {
  const require = createRequire(import.meta.url);
  const ours = require('pg') as typeof pg;
  const cached = Object.keys(require.cache).filter((path) =>
    /[\\/]node_modules[\\/]pg[\\/]/.test(path),
  );
  const kept = new Map(cached.map((path) => [path, require.cache[path]]));
  for (const path of cached) delete require.cache[path];
  try {
    const other = require('pg') as typeof pg;
    expect(other.Client).not.toBe(ours.Client);
    const pool = new other.Pool({ connectionString: testPostgresUrl(), max: 2, ...options });
    cleanup.push(() => pool.end());
    return pool;
  } finally {
    for (const [path, module] of kept) require.cache[path] = module;
  }
}

describe('PostgresLockStore on a pool whose clients name no Query class', () => {
  it('takes, renews and releases locks, plain and recorded, with configuration objects', async () => {
    const pool = newPool();
    cleanup.push(() => pool.end());
    // As a client wrapped by an object of its own would: its constructor is no pg Client.
    pool.on('connect', (client) => Object.defineProperty(client, 'constructor', { value: Object }));
    const sent: unknown[] = [];
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) => {
        sent.push(config);
        return query(config, ...rest);
      };
    });
    const table = uniqueTable('no_class');
    cleanup.push(() => dropTable(pool, table));
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());

    await takesRenewsAndReleases(store);
    const configs = sent.filter((config) => typeof config === 'object' && config !== null);
    expect(configs.length).toBeGreaterThan(0);
    expect(configs.every((config) => Object.getPrototypeOf(config) === Object.prototype)).toBe(
      true,
    );
  });
});

describe('PostgresLockStore on a pool from another copy of pg', () => {
  it.each([
    ['a pool', {}],
    ['a pool in pipeline mode', { pipeline: true }],
  ])('takes, renews and releases locks, plain and recorded, on %s', async (_, options) => {
    const pool = poolOfAnotherCopy(options as pg.PoolConfig);
    const table = uniqueTable('other_pg');
    const admin = newPool();
    cleanup.push(() => admin.end());
    cleanup.push(() => dropTable(admin, table));
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());

    await takesRenewsAndReleases(store);
  });
});
