import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** URL of the PostgreSQL database for this test run (set up by test/support/global-setup.ts). */
export function testPostgresUrl(): string {
  const url = inject('postgresUrl') ?? process.env.CRON_LOCK_TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      'No test PostgreSQL URL: run the tests through vitest (the globalSetup starts a ' +
        'PostgreSQL server or uses DATABASE_URL).',
    );
  }
  return url;
}

/** A table name unique to one test, e.g. `t_contract_3f9a1c2b`, so tests never share rows. */
export function uniqueTable(label = 'test'): string {
  const safe =
    label
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '_')
      .slice(0, 20) || 'test';
  return `t_${safe}_${randomBytes(4).toString('hex')}`;
}

/** A pool on the test database, for the store under test or for assertions. `end()` it after. */
export function newPool(options: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: testPostgresUrl(), max: 5, ...options });
  pool.on('error', () => undefined);
  return pool;
}

/** Drops a test table (and so its index). */
export async function dropTable(pool: pg.Pool, table: string, schema = 'public'): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS "${schema}"."${table}", "${schema}"."${table}_history"`);
}
