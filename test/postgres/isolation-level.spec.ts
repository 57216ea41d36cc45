import { randomBytes } from 'node:crypto';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { newToken } from '../contract/lock-store.contract.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { waitFor } from '../support/redis.js';

const MINUTE = 60_000;
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

describe.each(['repeatable read', 'serializable'])(
  'PostgresLockStore for a role whose default_transaction_isolation is %s',
  (isolation) => {
    it('answers an acquisition that waited for another writer of the row, never a serialization failure', async () => {
      const admin = newPool();
      cleanup.push(() => admin.end());
      const table = uniqueTable('isolation');
      cleanup.push(() => dropTable(admin, table));
      const role = `iso_${randomBytes(4).toString('hex')}`;
      cleanup.push(() => admin.query(`DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`));
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'isolation-pw-1'`);
      await admin.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${role}`);
      await admin.query(`ALTER ROLE ${role} SET default_transaction_isolation = '${isolation}'`);
      const url = new URL(testPostgresUrl());
      url.username = role;
      url.password = 'isolation-pw-1';
      const application = `iso_${randomBytes(4).toString('hex')}`;
      const pool = new pg.Pool({ connectionString: url.toString(), application_name: application });
      pool.on('error', () => undefined);
      cleanup.push(() => pool.end());
      const store = new PostgresLockStore(pool, { table, logger: false });
      cleanup.push(() => store.close());

      const first = newToken();
      expect(
        await store.acquire({ name: 'job', token: first, ttl: MINUTE, instanceId: 'a' }),
      ).toMatchObject({ acquired: true });
      expect(await store.release({ name: 'job', token: first })).toBe(true);

      // Another writer of the job's row (another instance's statement, an operator's UPDATE)
      // holds it while this acquisition starts, then commits.
      const writer = await admin.connect();
      cleanup.push(async () => writer.release());
      await writer.query('BEGIN');
      await writer.query(`UPDATE public.${table} SET holder = holder WHERE name = 'job'`);
      const acquisition = store.acquire({
        name: 'job',
        token: newToken(),
        ttl: MINUTE,
        instanceId: 'b',
        scheduledAt: OCCURRENCE,
      });
      await waitFor(
        async () => {
          const { rows } = await admin.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE application_name = $1 AND wait_event_type = 'Lock'`,
            [application],
          );
          return rows[0]!.n === 1;
        },
        { timeout: 10_000, message: 'the acquisition to wait for the row' },
      );
      await writer.query('COMMIT');

      // Under READ COMMITTED the statement reads the committed row and goes on; under a stricter
      // level its snapshot predates the commit and PostgreSQL refuses it (SQLSTATE 40001), a
      // store error that onStoreError: 'run' would turn into a run without the lock.
      expect(await acquisition).toMatchObject({ acquired: true });
    });
  },
);
