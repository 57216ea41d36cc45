import { randomBytes } from 'node:crypto';
import { LockStoreError } from 'nestjs-cron-lock';
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
  await pool.query(`DROP TABLE IF EXISTS "${schema}"."${table}", "${schema}"."${table}_history";
    DROP FUNCTION IF EXISTS "${schema}"."${table}_acquire", "${schema}"."${table}_release",
      "${schema}"."${table}_trim"`);
}

/** A store's own bound on one operation (`operationTimeout`) ran out: its pool or its server. */
const OUT_OF_TIME = /^no (answer from PostgreSQL|PostgreSQL connection from the pool) within \d+ms/;

/**
 * Runs `step` until it does not fail for want of time, within `timeout` ms: for the steps of a
 * test of a short `operationTimeout` that are not about that bound (the setup before the fault,
 * the recovery after it). On a loaded machine any one call can exceed a bound of a few hundred
 * ms (a new connection, a statement's first run), which says nothing about the store. Any other
 * failure fails at once. Only for a step that may be repeated: a call that ran out of time may
 * still have done its work on the server, so the test checks the outcome, not each answer.
 */
export async function retryOutOfTime<T>(
  step: () => Promise<T>,
  { timeout = 20_000, message = 'the step' }: { timeout?: number; message?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await step();
    } catch (error) {
      const outOfTime = error instanceof LockStoreError && OUT_OF_TIME.test(error.message);
      if (!outOfTime) throw error;
      if (Date.now() >= deadline) {
        throw new Error(`${message} still ran out of time after ${timeout} ms: ${error.message}`, {
          cause: error,
        });
      }
    }
  }
}
