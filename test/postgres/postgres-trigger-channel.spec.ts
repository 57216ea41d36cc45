import { LockStoreError } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisTcpProxy } from '../faults/support/tcp-proxy.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { waitFor } from '../support/redis.js';

/** Every pool, proxy, table and connection a test made, undone after it. */
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

function adminPool(): pg.Pool {
  const made = newPool();
  cleanup.push(() => made.end());
  return made;
}

function table(label: string, on: pg.Pool): string {
  const name = uniqueTable(label);
  cleanup.push(() => dropTable(on, name));
  return name;
}

/**
 * The app's own pool, which the test ends itself: its connections carry a name of their own, and
 * any left behind (a failed run) are ended from the server side afterwards.
 */
function appPool(admin: pg.Pool, options: pg.PoolConfig = {}): { pool: pg.Pool; app: string } {
  const app = uniqueTable('app');
  cleanup.push(() =>
    admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [app],
    ),
  );
  return { pool: newPool({ max: 1, application_name: app, ...options }), app };
}

const LISTENING_SQL = `SELECT count(*)::int AS n FROM pg_stat_activity
WHERE application_name = $1 AND query LIKE 'LISTEN%'`;

/** How many of `app`'s connections LISTEN, polled until none does or `timeout` ms passed. */
async function listeningLeft(admin: pg.Pool, app: string, timeout = 5_000): Promise<number> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const { rows } = await admin.query<{ n: number }>(LISTENING_SQL, [app]);
    if (rows[0]!.n === 0 || Date.now() >= deadline) {
      return rows[0]!.n;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `pool.end()` within `ms`, or `'still waiting'`: a pool ends only once every connection it lent
 * is back, so a connection the store kept makes it wait for good.
 */
function endWithin(pool: pg.Pool, ms: number): Promise<'ended' | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still waiting'>((resolve) => {
    timer = setTimeout(() => resolve('still waiting'), ms);
  });
  return Promise.race([pool.end().then(() => 'ended' as const), late]).finally(() =>
    clearTimeout(timer),
  );
}

/** How a subscription began before the store closed ended: it must not say it listens. */
function settled(subscribing: Promise<unknown>): Promise<string> {
  return subscribing.then(
    () => 'listening',
    (error: unknown) =>
      error instanceof LockStoreError ? `LockStoreError: ${error.message}` : String(error),
  );
}

describe('PostgresTriggerChannel closed while it connects (a pool passed in)', () => {
  it('gives the connection back when the store closes before the first LISTEN', async () => {
    const admin = adminPool();
    const { pool, app } = appPool(admin);
    const store = new PostgresLockStore(pool, { logger: false, table: table('first', admin) });
    await store.ping();

    // Not awaited: the app shuts down while the channel is still taking its connection.
    const subscribing = settled(store.triggers.subscribe(() => undefined));
    await store.close();
    // Once the subscription has its answer, the connection it was given is no longer in flight.
    const subscription = await subscribing;

    const poolEnd = await endWithin(pool, 5_000);
    expect({ subscription, poolEnd, listening: await listeningLeft(admin, app) }).toEqual({
      subscription: expect.stringMatching(/^LockStoreError: .*closed/),
      poolEnd: 'ended',
      listening: 0,
    });
  });

  it('gives the connection back when the store closes while the LISTEN goes unanswered', async () => {
    const admin = adminPool();
    const direct = new URL(testPostgresUrl());
    // A plain TCP proxy: partition() holds every byte in both directions until heal().
    const proxy = await RedisTcpProxy.start(Number(direct.port));
    cleanup.push(() => proxy.close());
    const viaProxy = new URL(testPostgresUrl());
    viaProxy.port = String(proxy.port);
    const { pool } = appPool(admin, { connectionString: viaProxy.toString() });
    const store = new PostgresLockStore(pool, { logger: false, table: table('cut', admin) });
    await store.ping();

    proxy.partition();
    const subscribing = settled(store.triggers.subscribe(() => undefined));
    await waitFor(() => pool.totalCount === 1 && pool.idleCount === 0, {
      message: 'the channel to take the connection for its LISTEN',
    });
    await store.close();

    const poolEnd = await endWithin(pool, 5_000);
    expect(poolEnd).toBe('ended');
    expect(await subscribing).toMatch(/^LockStoreError: .*closed/);
  });

  it('gives the connection back when a subscription closes while the channel listens again', async () => {
    const admin = adminPool();
    const { pool, app } = appPool(admin);
    // A long wait for a connection: the re-listen must still be waiting when the store closes.
    const store = new PostgresLockStore(pool, {
      logger: false,
      table: table('relisten', admin),
      operationTimeout: 60_000,
    });
    await store.ping();
    const subscription = await store.triggers.subscribe(() => undefined);

    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
      [app],
    );
    await waitFor(() => pool.totalCount === 0, {
      message: 'the channel to drop its broken connection',
    });
    const busy = await pool.connect();
    await waitFor(() => pool.waitingCount === 1, {
      timeout: 10_000,
      message: 'the re-listen to wait for a connection',
    });
    await subscription.close();
    await store.close();
    busy.release();

    const poolEnd = await endWithin(pool, 5_000);
    expect({ poolEnd, listening: await listeningLeft(admin, app) }).toEqual({
      poolEnd: 'ended',
      listening: 0,
    });
  });
});
