import { Injectable } from '@nestjs/common';
import { LockedCron, LockStoreError, type CronLockAlert } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newToken } from '../contract/lock-store.contract.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { CronApps } from '../support/cron-apps.js';
import {
  startPostgresServer,
  TEST_POSTGRES_PASSWORD,
  type PostgresServerHandle,
} from '../support/postgres-server.js';
import { uniqueTable } from '../support/postgres.js';
import { waitFor } from '../support/redis.js';

const MINUTE = 60_000;
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

@Injectable()
class EverySecond {
  @LockedCron('* * * * * *', { name: 'every-second' })
  tick(): void {}
}

/** A PostgreSQL of this file's own: restarting it must not disturb the other test files. */
describe('PostgresLockStore across a database restart', () => {
  let server: PostgresServerHandle;
  let pool: pg.Pool;

  beforeAll(async () => {
    server = await startPostgresServer();
    pool = new pg.Pool({ connectionString: server.url, max: 3 });
    // Idle connections die with the server; the pool drops them and connects anew.
    pool.on('error', () => undefined);
  });

  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  /** Polls until the store answers again (it reconnects by itself, through the pool). */
  const answered = (store: PostgresLockStore) =>
    waitFor(async () => (await store.ping()) >= 0, {
      timeout: 20_000,
      message: 'the store to answer again',
    });

  it.each(['fast', 'immediate'] as const)(
    'keeps the held lock, the occurrence marker and increasing fencing tokens across a %s restart with a run in flight',
    async (mode) => {
      const store = new PostgresLockStore(pool, { table: uniqueTable(mode), logger: false });
      const token = newToken();
      const before = await store.acquire({
        name: 'job',
        token,
        ttl: MINUTE,
        instanceId: 'a',
        scheduledAt: OCCURRENCE,
      });
      expect(before.acquired).toBe(true);

      await server.restart(mode);
      await answered(store);

      // The run in flight still owns its lock: its renewal and its release work as before.
      expect(await store.renew({ name: 'job', token, ttl: MINUTE })).toEqual({ renewed: true });
      expect(
        await store.acquire({
          name: 'job',
          token: newToken(),
          ttl: MINUTE,
          instanceId: 'b',
          scheduledAt: OCCURRENCE,
        }),
      ).toMatchObject({ acquired: false, reason: 'tick-done' });
      expect(await store.release({ name: 'job', token })).toBe(true);

      const after = await store.acquire({
        name: 'job',
        token: newToken(),
        ttl: MINUTE,
        instanceId: 'b',
        scheduledAt: OCCURRENCE + MINUTE,
      });
      expect(after.acquired).toBe(true);
      if (before.acquired && after.acquired) {
        expect(after.fencingToken).toBeGreaterThan(before.fencingToken);
      }
    },
  );

  it('fails operations with a redacted LockStoreError while the database is down, and recovers by itself', async () => {
    const store = new PostgresLockStore(server.url, {
      table: uniqueTable('down'),
      logger: false,
      operationTimeout: 1_000,
    });
    try {
      await store.ping();
      await server.halt();
      const error = await store
        .acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'a' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockStoreError);
      expect(`${(error as Error).message} ${(error as Error).stack}`).not.toContain(
        TEST_POSTGRES_PASSWORD,
      );
      await server.start();
      await answered(store);
      expect(
        (await store.acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'a' }))
          .acquired,
      ).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('survives a restart on a pool passed in with no error listener (as the docs build it): its idle connections logged once, redacted', async () => {
    // No pool.on('error'): the store left its idle connections in the pool, whose errors at a
    // restart would otherwise be thrown from the socket, ending the process (and printing the
    // client's settings, password included).
    const bare = new pg.Pool({ connectionString: server.url, max: 3 });
    const logger = new CapturingLogger();
    const store = new PostgresLockStore(bare, { table: uniqueTable('bare'), logger });
    const idleErrors = () =>
      logger.lines.filter((line) => /PostgreSQL idle connection error/.test(line.message));
    try {
      await Promise.all([store.ping(), store.ping(), store.ping()]);
      await server.restart('fast');
      await waitFor(() => idleErrors().length > 0, {
        timeout: 10_000,
        message: 'the idle connections’ errors to be logged',
      });
      await answered(store);
      expect(idleErrors()).toHaveLength(1);
      expect(idleErrors()[0]!.level).toBe('warn');
      expect(JSON.stringify(logger.lines)).not.toContain(TEST_POSTGRES_PASSWORD);
      expect(
        (await store.acquire({ name: 'job', token: newToken(), ttl: MINUTE, instanceId: 'a' }))
          .acquired,
      ).toBe(true);
    } finally {
      await store.close();
    }
    // Closed, the store leaves the app's pool as it found it.
    expect(bare.listenerCount('error')).toBe(0);
    expect(bare.listenerCount('acquire')).toBe(0);
    await bare.end();
  });

  it('leaves the errors of a pool passed in to the listener the app gave it', async () => {
    const appPool = new pg.Pool({ connectionString: server.url, max: 3 });
    const seen: unknown[] = [];
    appPool.on('error', (error) => seen.push(error));
    const logger = new CapturingLogger();
    const store = new PostgresLockStore(appPool, { table: uniqueTable('own'), logger });
    try {
      await Promise.all([store.ping(), store.ping()]);
      await server.restart('fast');
      await waitFor(() => seen.length > 0, {
        timeout: 10_000,
        message: 'the app’s listener to hear the idle connections’ errors',
      });
      await answered(store);
      expect(logger.lines.filter((line) => line.level !== 'log')).toEqual([]);
    } finally {
      await store.close();
      await appPool.end();
    }
  });

  it('raises the store-failures alert of a database outage without sending the operator to Redis', async () => {
    const store = new PostgresLockStore(server.url, {
      table: uniqueTable('alert'),
      operationTimeout: 500,
      logger: false,
    });
    const apps = new CronApps();
    const alerts: CronLockAlert[] = [];
    try {
      await apps.boot(
        { store, logger: false, alerts: { storeFailures: 2, missedPeriods: 1_000 } },
        [EverySecond],
        (locks) => locks.on('alert', (alert) => alerts.push(alert)),
      );
      await server.halt();
      const alert = await waitFor(() => alerts.find((a) => a.kind === 'store-failures'), {
        timeout: 20_000,
        message: 'a store-failures alert',
      });
      expect(alert.message).toMatch(/the lock store failed 2 acquisitions in a row/);
      expect(alert.message).not.toMatch(/Redis/);
      expect(alert.message).toMatch(/Check that the lock store is reachable from this instance\./);
      expect(alert.message).not.toContain(TEST_POSTGRES_PASSWORD);
    } finally {
      await server.start();
      await apps.closeAll();
      await store.close();
    }
  });

  it("keeps fencing tokens increasing when the job's row is lost (a restore from an older backup)", async () => {
    const table = uniqueTable('lost');
    const store = new PostgresLockStore(pool, { table, logger: false });
    const token = newToken();
    const first = await store.acquire({ name: 'job', token, ttl: MINUTE, instanceId: 'a' });
    await store.release({ name: 'job', token });
    await pool.query(`TRUNCATE public.${table}`);
    const second = await store.acquire({
      name: 'job',
      token: newToken(),
      ttl: MINUTE,
      instanceId: 'a',
    });
    expect(first.acquired && second.acquired).toBe(true);
    if (first.acquired && second.acquired) {
      expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    }
  });
});
