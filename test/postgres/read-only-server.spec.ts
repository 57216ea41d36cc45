import { randomBytes } from 'node:crypto';
import { LockStoreError } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { newToken } from '../contract/lock-store.contract.js';
import { bootApp } from '../deploy/support/app.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';

const MINUTE = 60_000;
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);
const ROLE_PASSWORD = 'read-only-pw-5c1e';

/** Every pool, store, table and role a test made, undone after it. */
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

/**
 * A login role whose sessions start read-only (`default_transaction_read_only = on`), as every
 * session on a hot standby is, with the rights on a lock table created beforehand by the admin.
 * `writable()` turns the setting off for sessions opened from then on, as a failover that completes
 * does for new connections (which reach the new primary); sessions already open stay read-only, as
 * connections still on the demoted server do.
 */
async function readOnlyRole(admin: pg.Pool, label: string) {
  const table = uniqueTable(label);
  const role = `ro_${randomBytes(4).toString('hex')}`;
  const owner = new PostgresLockStore(admin, { table, logger: false });
  cleanup.push(() => dropTable(admin, table));
  cleanup.push(() => owner.close());
  await owner.ping(); // creates the table
  cleanup.push(() => admin.query(`DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`));
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${ROLE_PASSWORD}'`);
  await admin.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
  await admin.query(
    `GRANT SELECT, INSERT, UPDATE, DELETE ON public.${table}, public.${table}_history TO ${role}`,
  );
  await admin.query(`ALTER ROLE ${role} SET default_transaction_read_only = on`);
  const url = new URL(testPostgresUrl());
  url.username = role;
  url.password = ROLE_PASSWORD;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  pool.on('error', () => undefined);
  cleanup.push(() => pool.end());
  return {
    table,
    owner,
    pool,
    writable: () => admin.query(`ALTER ROLE ${role} RESET default_transaction_read_only`),
  };
}

describe('PostgresLockStore on a read-only server (a hot standby after a failover)', () => {
  it('names the cause and the fix, and the next acquisition after the failover runs on a writable connection', async () => {
    const admin = newPool();
    cleanup.push(() => admin.end());
    const { table, pool, writable } = await readOnlyRole(admin, 'ro_acquire');
    const logger = new CapturingLogger();
    const store = new PostgresLockStore(pool, { table, logger });
    cleanup.push(() => store.close());
    const request = () => ({
      name: 'job',
      token: newToken(),
      ttl: MINUTE,
      instanceId: 'a',
      scheduledAt: OCCURRENCE,
    });

    const refused = await store.acquire(request()).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(LockStoreError);
    const message = (refused as LockStoreError).message;
    expect(message).toContain('SQLSTATE 25006');
    expect(message).toMatch(/read-only/);
    expect(message).toMatch(/Fix: .*primary/);
    expect(message).not.toContain(ROLE_PASSWORD);

    // The failover completes: new connections are writable. The one that answered read-only must
    // not be lent again, or every run would keep failing for as long as the pool keeps it busy.
    await writable();
    expect(await store.acquire(request())).toMatchObject({ acquired: true });
    expect(logger.lines.map((line) => line.message).join('\n')).not.toContain(ROLE_PASSWORD);
  });

  it('a held lock is renewed once the failover completes, not refused on the read-only connection again', async () => {
    const admin = newPool();
    cleanup.push(() => admin.end());
    const { table, owner, pool, writable } = await readOnlyRole(admin, 'ro_renew');
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());
    const token = newToken();
    // Taken before the failover, on the primary.
    expect(await owner.acquire({ name: 'job', token, ttl: MINUTE, instanceId: 'a' })).toMatchObject(
      { acquired: true },
    );

    const refused = store.renew({ name: 'job', token, ttl: MINUTE });
    await expect(refused).rejects.toBeInstanceOf(LockStoreError);
    await expect(refused).rejects.toThrow(/SQLSTATE 25006/);

    await writable();
    expect(await store.renew({ name: 'job', token, ttl: MINUTE })).toEqual({ renewed: true });
  });

  it('an app started on it says the store cannot take locks, with the fix, instead of "Lock store ready"', async () => {
    const admin = newPool();
    cleanup.push(() => admin.end());
    const { table, pool } = await readOnlyRole(admin, 'ro_startup');
    const logger = new CapturingLogger();
    const store = new PostgresLockStore(pool, { table, logger: false });
    cleanup.push(() => store.close());

    const app = await bootApp({ store, logger });
    cleanup.push(() => app.close());

    const said = (level: string) =>
      logger.lines.filter((line) => line.level === level).map((line) => line.message);
    expect(said('log').join('\n')).not.toContain('Lock store ready');
    const warnings = said('warn').filter((line) => line.includes('cannot take locks'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/read-only/);
    expect(warnings[0]).toMatch(/Fix: .*primary/);
    expect(logger.lines.map((line) => line.message).join('\n')).not.toContain(ROLE_PASSWORD);
  });
});
