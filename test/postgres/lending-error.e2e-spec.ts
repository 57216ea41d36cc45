// `pg`'s pool takes its `error` listener off a connection when it lends it, and hands it over in
// a promise: the borrower can listen from a later microtask at the earliest. When the server's
// error comes in the same read as the reply during which the pool lends the connection (a
// database shutting down, or an admin ending the session, right after a ReadyForQuery), `pg`
// emits it on the connection before anyone listens, and an unheard `error` ends the process.
// Seen once in CI, while a test halted its server under thousands of acquisitions.
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { describe, expect, it } from 'vitest';
import { forkTs } from '../support/fork-ts.js';
import { newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';

/** Runs the fixture's scenario in a process of its own: what it reported, and how it ended. */
async function runScenario(
  scenario: 'new' | 'lent-again' | 'verify',
): Promise<{ code: number | null; reported: unknown; stderr: string }> {
  const child = forkTs(
    'test/fixtures/postgres-lending-error.ts',
    [uniqueTable('lending'), scenario],
    {
      env: { ...process.env, CRON_LOCK_TEST_DATABASE_URL: testPostgresUrl() },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let reported: unknown;
  child.on('message', (message) => (reported = message));
  // A scenario that hangs fails the test, not the rest of the run: its process goes with it.
  const hung = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(hung);
  return { code, reported, stderr };
}

/** The store's error for the acquire: the server's own reason, with its SQLSTATE. */
const endedByTheServer = expect.stringMatching(
  /^LockStoreError: .*terminating connection due to administrator command.*\(SQLSTATE 57P01\)$/,
);

describe('a connection PostgreSQL ends while the pool lends it to the store', () => {
  it.each([
    [
      'a new connection, ended in the read that completes its start-up: the acquire fails as a store error, the process lives, the next acquire takes the lock',
      'new',
      'none',
    ],
    [
      "an idle connection lent to the store from the callback of an app's pool.query, ended in the read of that reply: the app has its answer, the acquire fails as a store error, the process lives",
      'lent-again',
      'answered',
    ],
    [
      "a new connection of a pool with pg-pool's verify option, ended in the read of its check's reply: the acquire fails as a store error, the process lives",
      'verify',
      'none',
    ],
  ] as const)(
    '%s',
    async (_title, scenario, app) => {
      const { code, reported, stderr } = await runScenario(scenario);
      expect({ code, reported }, stderr).toEqual({
        code: 0,
        reported: { app, first: endedByTheServer, sentAfterHold: 0, after: true },
      });
    },
    60_000,
  );

  it('lets a dozen stores share a pool with no listener-leak warning, leaves the connections the app holds to the app, and the pool as it found it', async () => {
    const pool = newPool({ max: 2 });
    const stores = Array.from(
      { length: 12 },
      () => new PostgresLockStore(pool, { table: uniqueTable('lending'), logger: false }),
    );
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      for (const store of stores) {
        expect(await store.ping()).toBeGreaterThanOrEqual(0);
      }
      // The app's own: one connection lent again, one lent anew, and statements of its own.
      // Once the app has them they are the app's to listen to, as `pg` documents: an error the
      // store heard for as long as the app held them would be lost to the app.
      const [reused, fresh] = await Promise.all([pool.connect(), pool.connect()]);
      const whileHeld = [reused.listenerCount('error'), fresh.listenerCount('error')];
      reused.release();
      fresh.release();
      expect(whileHeld).toEqual([0, 0]);
      // Given back, each has only the pool's own listener.
      expect([reused.listenerCount('error'), fresh.listenerCount('error')]).toEqual([1, 1]);
      await Promise.all(Array.from({ length: 4 }, () => pool.query('SELECT 1')));
      await Promise.all(stores.map((store) => store.close()));
      const borrowed = await pool.connect();
      expect(borrowed.listenerCount('error')).toBe(0);
      borrowed.release();
      expect(['error', 'acquire', 'release'].map((event) => pool.listenerCount(event))).toEqual([
        1, // the test's own (newPool)
        0,
        0,
      ]);
      // Node emits a warning on a later tick: let any come in.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual(
        [],
      );
    } finally {
      process.off('warning', onWarning);
      await Promise.all(stores.map((store) => store.close()));
      await pool.end();
    }
  });
});
