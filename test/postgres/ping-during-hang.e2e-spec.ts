// Health probes (the terminus indicator, `CronLockService.ping()`) keep coming while PostgreSQL
// does not answer: each caller gives up at its own timeout, but the store's ping goes on until
// `operationTimeout`. One pooled connection per probe would leave the pool to the probes for the
// whole outage; probes that overlap share one ping instead.
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisTcpProxy } from '../faults/support/tcp-proxy.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

/** Probes sent while the database hangs, one every PROBE_EVERY_MS, as a busy probe schedule. */
const PROBES = 8;
const PROBE_EVERY_MS = 100;

describe('PostgresLockStore.ping() while PostgreSQL does not answer', () => {
  it('holds one pooled connection however many probes overlap, and answers them all once it heals', async () => {
    const admin = newPool();
    cleanup.push(() => admin.end());
    const proxy = await RedisTcpProxy.start(Number(new URL(testPostgresUrl()).port));
    cleanup.push(() => proxy.close());
    const viaProxy = new URL(testPostgresUrl());
    viaProxy.port = String(proxy.port);
    const pool = newPool({ connectionString: viaProxy.toString(), max: 4 });
    cleanup.push(() => pool.end());
    const table = uniqueTable('ping_hang');
    cleanup.push(() => dropTable(admin, table));
    // Longer than the probes take to arrive: none of them times out before the heal.
    const store = new PostgresLockStore(pool, { table, operationTimeout: 20_000, logger: false });
    await store.ping(); // creates the table; one idle connection left in the pool

    proxy.partition();
    const probes: Promise<number>[] = [];
    cleanup.push(() => {
      proxy.heal(); // so that a failed assertion leaves no probe waiting on the pool
      return Promise.allSettled(probes);
    });
    for (let i = 0; i < PROBES; i += 1) {
      probes.push(store.ping());
      // The cadence of the probes, not a wait for an event.
      await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS));
    }
    // Before: one connection per probe, up to the pool's max (4), each held until it timed out.
    expect(pool.totalCount).toBe(1);
    expect(pool.idleCount).toBe(0);

    proxy.heal();
    const answers = await Promise.all(probes);
    for (const ms of answers) {
      expect(ms).toBeGreaterThan(0);
    }
    // The pool serves the store as before: a probe after the heal has a round trip of its own.
    const after = await store.ping();
    expect(after).toBeLessThan(Math.min(...answers));
    expect(pool.totalCount).toBe(1);
  });
});
