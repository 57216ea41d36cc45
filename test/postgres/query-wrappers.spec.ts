// Tracing tools (OpenTelemetry's pg instrumentation, Datadog's tracer) wrap each connection's
// `query` and pass pg a copy of the query's configuration made with an object spread, which keeps
// its own properties only. The store's calls must carry everything pg reads as their own.
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { newToken } from '../contract/lock-store.contract.js';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { recordRun } from '../support/recorded-run.js';

const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

/** A pool whose connections' `query` passes pg a spread copy of each configuration object. */
function spreadingPool(): pg.Pool {
  const pool = newPool();
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) =>
      query(
        typeof config === 'object' && config !== null && !('submit' in config)
          ? { ...config }
          : config,
        ...rest,
      );
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

    const token = newToken();
    const lock = { name: 'plain', token, ttl: 60_000, instanceId: 'a' };
    expect(await store.acquire(lock)).toMatchObject({ acquired: true });
    expect(await store.renew(lock)).toEqual({ renewed: true });
    expect(await store.release(lock)).toBe(true);

    await recordRun(store, { name: 'job', scheduledAt: OCCURRENCE, historySize: 5 });
    expect(await store.history('job', 5)).toEqual([
      expect.objectContaining({ scheduledAt: OCCURRENCE, outcome: 'completed' }),
    ]);
  });
});
