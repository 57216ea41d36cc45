// `nestjs-cron-lock` against a store that accepts connections but stops answering: every command
// ends within a bounded time, exit 1, with one line that names the store and holds no secret.
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { startPgBouncer, type PgBouncerHandle } from '../support/pgbouncer.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';
import { startSilentProxy, type SilentProxy } from './silent-proxy.js';

/**
 * Far below the runner's kill (90 s), far above what the command needs (5 s per step it waits
 * on, plus the loader's start on a loaded machine).
 */
const BOUNDED_MS = 30_000;

describe('nestjs-cron-lock against a store that stops answering', () => {
  const proxies: SilentProxy[] = [];
  const bouncers: PgBouncerHandle[] = [];
  const tables: string[] = [];

  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
    await Promise.all(bouncers.splice(0).map((bouncer) => bouncer.stop()));
    const pool = newPool();
    await Promise.all(tables.splice(0).map((table) => dropTable(pool, table)));
    await pool.end();
  });

  /** A lock table the command finds (it never creates one). */
  async function lockTable(): Promise<string> {
    const table = uniqueTable('cli-silent');
    tables.push(table);
    const store = new PostgresLockStore(testPostgresUrl(), { table, logger: false });
    await store.ping();
    await store.close();
    return table;
  }

  /** The one line on stderr, checked to hold no password of the test database. */
  function oneLine(stderr: string): string {
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const password = decodeURIComponent(new URL(testPostgresUrl()).password);
    if (password !== '') {
      expect(lines[0]).not.toContain(password);
    }
    return lines[0];
  }

  async function proxyTo(url: string, forwarded: number): Promise<string> {
    const target = new URL(url);
    const proxy = await startSilentProxy(Number(target.port), forwarded);
    proxies.push(proxy);
    target.port = String(proxy.port);
    return target.toString();
  }

  it('trigger on Redis ends with exit 1 and one line when the channel subscription gets no answer', async () => {
    // The command's own connection is forwarded; the trigger channel's (the second) never is.
    const url = await proxyTo(testRedisUrl(), 1);
    const started = performance.now();
    const run = await runCli(
      ['trigger', 'cli-yearly', '--prefix', uniquePrefix('cli-silent'), '--yes'],
      {
        env: { REDIS_URL: url },
      },
    );
    const took = performance.now() - started;

    expect(run.code).toBe(1);
    expect(took).toBeLessThan(BOUNDED_MS);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^nestjs-cron-lock: .*Redis at redis:\/\/127\.0\.0\.1:\d+.*no answer within 5s/,
    );
    expect(lines[0]).toContain('no request was sent');
  });

  it.each([
    // Nothing answers: the command cannot connect.
    [0, ['status']],
    // The command connects, then its next connections (the probe's, the request's) get no answer.
    [1, ['trigger', 'cli-yearly', '--yes']],
  ])(
    'on PostgreSQL forwarding %i connections, %j says it got no answer, not the pool advice of an app',
    async (forwarded, args) => {
      const table = await lockTable();
      const url = await proxyTo(testPostgresUrl(), forwarded);
      const run = await runCli([...args, '--table', table], { env: { DATABASE_URL: url } });

      expect(run.code).toBe(1);
      const line = oneLine(run.stderr);
      expect(line).toMatch(/^nestjs-cron-lock: .*PostgreSQL at postgres:\/\/.*127\.0\.0\.1:\d+/);
      expect(line).toMatch(/no answer within 5s/);
      // The command makes its own pool: no pool setting of its user's can help.
      expect(line).not.toContain('pool');
      expect(line).not.toContain('LockStoreError');
    },
  );

  it('trigger on PostgreSQL behind a pooler in transaction mode says what to pass instead', async () => {
    const bouncer = await startPgBouncer(testPostgresUrl(), {
      poolMode: 'transaction',
      poolSize: 4,
    });
    bouncers.push(bouncer);
    const table = await lockTable();
    const run = await runCli(['trigger', 'cli-yearly', '--yes', '--table', table], {
      env: { DATABASE_URL: bouncer.url },
    });

    expect(run.code).toBe(1);
    const line = oneLine(run.stderr);
    expect(line).toMatch(
      /^nestjs-cron-lock: Cannot listen for the instances' replies on PostgreSQL at /,
    );
    expect(line).toContain('transaction mode');
    expect(line).toContain('--database');
    expect(line).toContain('no request was sent');
    // Advice for an app's configuration, not for this command.
    expect(line).not.toContain('leave triggers unused');
    expect(line).not.toContain('LockStoreError');
  });
});
