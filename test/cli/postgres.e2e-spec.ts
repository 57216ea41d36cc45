// `nestjs-cron-lock status` and `release <job>` against a PostgresLockStore's table.
import { randomBytes } from 'node:crypto';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_POSTGRES_PASSWORD } from '../support/postgres-server.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { runCli } from './cli-process.js';

/** The occurrence the crashed holder was running, in the past. */
const STUCK_TICK = Math.floor(Date.now() / 1_000) * 1_000 - 10_000;

describe('nestjs-cron-lock against PostgreSQL', () => {
  let pool: pg.Pool;
  let table: string;
  let store: PostgresLockStore;

  beforeEach(async () => {
    pool = newPool();
    table = uniqueTable('cli');
    store = new PostgresLockStore(pool, { table, logger: false });
    // What a holder that crashed mid-run leaves: a lock with a long ttl, nobody renewing it.
    const stuck = await store.acquire({
      name: 'stuck',
      token: randomBytes(16).toString('hex'),
      ttl: 600_000,
      scheduledAt: STUCK_TICK,
      instanceId: 'crashed-instance',
    });
    expect(stuck.acquired).toBe(true);
    const done = randomBytes(16).toString('hex');
    await store.acquire({ name: 'done', token: done, ttl: 600_000, instanceId: 'other' });
    await store.release({
      name: 'done',
      token: done,
      outcome: { status: 'completed', durationMs: 12, finishedAt: STUCK_TICK },
    });
  });

  afterEach(async () => {
    await store.close();
    await dropTable(pool, table);
    await pool.end();
  });

  it('status --json lists every job of the table, from DATABASE_URL, without the password', async () => {
    const run = await runCli(['status', '--json', '--table', table], {
      env: { DATABASE_URL: testPostgresUrl() },
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout) as { prefix: string; jobs: Array<Record<string, unknown>> };
    expect(json.prefix).toBe(`public.${table}`);
    expect(json.jobs.map((job) => [job.name, job.held, job.holder])).toEqual([
      ['done', false, null],
      ['stuck', true, 'crashed-instance'],
    ]);
    expect(json.jobs[1].lastTick).toBe(new Date(STUCK_TICK).toISOString());
    expect(run.stdout).not.toContain(TEST_POSTGRES_PASSWORD);
  });

  it('history exits 1 for a job the table does not have, naming its jobs, and 0 for one with no history', async () => {
    const env = { DATABASE_URL: testPostgresUrl() };
    const [unknown, unknownJson, none] = await Promise.all([
      runCli(['history', 'nosuch', '--table', table], { env }),
      runCli(['history', 'nosuch', '--table', table, '--json'], { env }),
      runCli(['history', 'stuck', '--table', table], { env }),
    ]);

    for (const run of [unknown, unknownJson]) {
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`No job "nosuch" in table public.${table}`);
      expect(run.stderr).toContain('jobs there: done, stuck');
    }
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain(`No history of "stuck" in table public.${table}`);
  });

  it('release --yes frees the stuck lock and keeps the occurrence marker and the fence', async () => {
    const before = await store.inspect('stuck');
    const run = await runCli([
      'release',
      'stuck',
      '--yes',
      '--database',
      testPostgresUrl(),
      '--table',
      table,
    ]);
    // A URL with a password on the command line earns the process-list warning, and only that.
    expect(run.stderr.trim()).toMatch(
      /^nestjs-cron-lock: warning: --database carries a password.*process list.*DATABASE_URL[^\n]*$/,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Released the lock of "stuck"');
    expect(run.stdout).toContain(`in table public.${table}`);
    expect(`${run.stdout}${run.stderr}`).not.toContain(TEST_POSTGRES_PASSWORD);
    const after = await store.inspect('stuck');
    expect(after.holder).toBeNull();
    expect(after.lastTick).toBe(STUCK_TICK);
    expect(after.fencingToken).toBe(before.fencingToken);
    expect(
      await store.acquire({
        name: 'stuck',
        token: randomBytes(16).toString('hex'),
        ttl: 1_000,
        scheduledAt: STUCK_TICK,
        instanceId: 'late',
      }),
    ).toMatchObject({ acquired: false, reason: 'tick-done' });
  });

  it('names a missing table and the fix, and never prints the password of an unreachable database', async () => {
    const missing = await runCli([
      'status',
      '--database',
      testPostgresUrl(),
      '--table',
      'no_such_table',
    ]);
    expect(missing.code).toBe(1);
    // PostgreSQL answered: the table is what is missing, and the command has no createTable to set.
    expect(missing.stderr).toMatch(
      /^nestjs-cron-lock: No lock table public\.no_such_table at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres: /m,
    );
    expect(missing.stderr).toContain('the command never creates it');
    expect(missing.stderr).toMatch(/Fix: .*--schema and --table/);
    expect(missing.stderr).not.toMatch(/Cannot reach|createTable|LockStoreError/);
    expect(missing.stderr).not.toContain(TEST_POSTGRES_PASSWORD);

    const down = new URL(testPostgresUrl());
    down.port = '1';
    const unreachable = await runCli(['status', '--database', down.toString()]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      /Cannot reach PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\//,
    );
    expect(unreachable.stderr).not.toContain(TEST_POSTGRES_PASSWORD);
  });

  it('never prints a password containing a raw @, wrong or unreachable', async () => {
    // pg takes the last `@` before the host as the end of the user info, as ioredis does.
    const wrong = new URL(testPostgresUrl());
    const withRawAt = (url: URL): string =>
      url.toString().replace(`:${url.password}@`, ':wrong@2secret@');
    const refused = await runCli(['status', '--database', withRawAt(wrong), '--table', table]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `Cannot reach PostgreSQL at postgres://postgres:***@127.0.0.1:${wrong.port}/`,
    );
    expect(refused.stdout + refused.stderr).not.toContain('2secret');

    const down = new URL(testPostgresUrl());
    down.port = '1';
    const unreachable = await runCli(['status', '--database', withRawAt(down)]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(
      'Cannot reach PostgreSQL at postgres://postgres:***@127.0.0.1:1/',
    );
    expect(unreachable.stdout + unreachable.stderr).not.toContain('2secret');
  });

  it('refuses mixed or malformed store options with the usage exit code', async () => {
    for (const args of [
      ['status', '--database', testPostgresUrl(), '--redis', 'redis://127.0.0.1:1'],
      ['status', '--database', testPostgresUrl(), '--prefix', 'x'],
      ['status', '--database', 'mysql://u:pw@h/db'],
      ['status', '--database', testPostgresUrl(), '--table', 'Bad-Name'],
      ['status', '--redis', 'redis://127.0.0.1:1', '--table', 'x'],
    ]) {
      const run = await runCli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).not.toContain(TEST_POSTGRES_PASSWORD);
      expect(run.stderr).not.toContain(':pw@');
    }
  });
});
