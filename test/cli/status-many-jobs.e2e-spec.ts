// `nestjs-cron-lock status` on a store holding a lock name per entity an app locks
// (`run('sync:<tenant>', …)`): thousands of names. The command prints every one of them, but must
// read them a few at a time: all at once, the reads queue on the command's pool of 10 PostgreSQL
// connections past its 5 s deadline, and the command fails saying the server did not answer.
import { RedisLockStore, type LockStore } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConnection } from '../../lib/cli/cli-redis.js';
import { openPostgresConnection } from '../../lib/cli/cli-postgres.js';
import { statusCommand, type StatusJson } from '../../lib/cli/status.command.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';
import { CountedReads } from '../support/counted-reads.js';

const NAMES = 2_000;
/** The connections of the command's own PostgreSQL pool. */
const CLI_POOL_SIZE = 10;

/** Gives `count` jobs state in the store (`tenant:0` …), 100 at a time, as their apps would. */
async function seed(store: LockStore, count: number): Promise<void> {
  for (let first = 0; first < count; first += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - first) }, (_, i) =>
        store.registerJob!(`tenant:${first + i}`, { cron: '0 * * * *', timeZone: 'UTC' }),
      ),
    );
  }
}

interface Backend {
  label: string;
  /** The most reads the command may have in flight at once. */
  maxInFlight: number;
  open(): Promise<{
    prefix: string;
    connect: () => ReturnType<typeof openConnection>;
    close(): Promise<void>;
  }>;
}

const backends: Backend[] = [
  {
    label: 'PostgreSQL',
    // Below the pool's size: a read never waits for a connection behind the command's own reads.
    maxInFlight: CLI_POOL_SIZE - 1,
    open: async () => {
      const pool: pg.Pool = newPool();
      const table = uniqueTable('cli_many');
      const store = new PostgresLockStore(pool, { table, logger: false });
      await seed(store, NAMES);
      return {
        prefix: store.tableName,
        connect: () => openPostgresConnection(testPostgresUrl(), 'public', table),
        close: async () => {
          await store.close();
          await dropTable(pool, table);
          await pool.end();
        },
      };
    },
  },
  {
    label: 'a real redis-server',
    maxInFlight: 32,
    open: async () => {
      const prefix = uniquePrefix('cli-many');
      const store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
      await seed(store, NAMES);
      return {
        prefix,
        connect: () => openConnection(testRedisUrl(), prefix),
        close: () => store.close(),
      };
    },
  },
];

describe.each(backends)('status on $label holding thousands of lock names', (backend) => {
  let opened: Awaited<ReturnType<Backend['open']>>;

  beforeAll(async () => {
    opened = await backend.open();
  });

  afterAll(async () => {
    await opened?.close();
  });

  it('prints every job, reading each once and only a few at a time', async () => {
    const connection = await opened.connect();
    const reads = new CountedReads();
    const lines: string[] = [];
    try {
      await statusCommand(
        { ...connection, store: reads.wrap(connection.store) },
        { prefix: opened.prefix, json: false },
        (text) => lines.push(text),
      );
    } finally {
      await connection.close();
    }
    const output = lines.join('\n');
    expect(output.match(/^tenant:\d+ +free +-/gm)).toHaveLength(NAMES);
    expect(output).toContain(`${NAMES} jobs (0 held)`);
    expect(reads.calls).toBe(NAMES);
    expect(reads.maxInFlight).toBeLessThanOrEqual(backend.maxInFlight);
  });

  it('status --json lists every job, in name order', async () => {
    const connection = await opened.connect();
    const reads = new CountedReads();
    const lines: string[] = [];
    try {
      await statusCommand(
        { ...connection, store: reads.wrap(connection.store) },
        { prefix: opened.prefix, json: true },
        (text) => lines.push(text),
      );
    } finally {
      await connection.close();
    }
    const names = (JSON.parse(lines.join('\n')) as StatusJson).jobs.map((job) => job.name);
    expect(names).toEqual(Array.from({ length: NAMES }, (_, i) => `tenant:${i}`).sort());
    expect(reads.maxInFlight).toBeLessThanOrEqual(backend.maxInFlight);
  });
});

describe('the status command on a PostgreSQL table of 40,000 lock names', () => {
  const COUNT = 40_000;
  let pool: pg.Pool;
  let table: string;

  beforeAll(async () => {
    pool = newPool();
    table = uniqueTable('cli_40k');
    const store = new PostgresLockStore(pool, { table, logger: false });
    await store.ping();
    await store.close();
    // What 40,000 tenants' released locks leave (one statement: the store's own calls would take
    // most of the test's time).
    await pool.query(
      `INSERT INTO public."${table}" (name, state_expires_at)
       SELECT 'tenant:' || i, now() + interval '1 day' FROM generate_series(0, $1 - 1) AS i`,
      [COUNT],
    );
  });

  afterAll(async () => {
    await dropTable(pool, table);
    await pool.end();
  });

  it('succeeds and prints every job, instead of failing as if the server did not answer', async () => {
    const run = await runCli(['status', '--table', table], {
      env: { DATABASE_URL: testPostgresUrl() },
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.match(/^tenant:\d+ +free +-/gm)).toHaveLength(COUNT);
    expect(run.stdout).toContain(`${COUNT} jobs (0 held) in table public.${table}`);
  });
});
