// Job names differing by case or punctuation, on a database whose collation is not "C" (the
// default of most hosted PostgreSQL, en_US.UTF-8 or ICU): listJobs() and the CLI's status list
// them in the order the store contract gives, as Redis and the memory store do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { newPool, testPostgresUrl } from '../support/postgres.js';

const DATABASE = `cron_lock_icu_${process.pid}`;
let url: string;

beforeAll(async () => {
  const pool = newPool();
  try {
    await pool.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
    await pool.query(
      `CREATE DATABASE ${DATABASE} LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C' TEMPLATE template0`,
    );
  } finally {
    await pool.end();
  }
  const address = new URL(testPostgresUrl());
  address.pathname = `/${DATABASE}`;
  url = address.toString();
});

afterAll(async () => {
  const pool = newPool();
  await pool.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`).finally(() => pool.end());
});

describe('PostgresLockStore.listJobs() on a database with an en-US collation', () => {
  it('lists names differing by case or punctuation sorted as the store contract sorts them', async () => {
    const store = new PostgresLockStore(url, { logger: false });
    try {
      const names = ['b.job', 'B.job', 'a.job', 'A.job', 'a-b', 'ab', 'a_c', 'a:d', 'Z9'];
      for (const name of names) {
        await store.registerJob!(name, { cron: '0 * * * *', timeZone: 'UTC' });
      }

      // en-US puts 'a_c' first and 'Z9' last; the contract (and Redis) sort by code unit.
      expect(await store.listJobs()).toEqual([...names].sort());
    } finally {
      await store.close();
    }
  });
});
