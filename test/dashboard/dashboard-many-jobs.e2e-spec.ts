// The dashboard on a store holding far more lock names than a page can show: an app that locks
// one entity at a time (`run('tenant:<id>', …)`) leaves a name per entity. Each page load must
// read a bounded number of jobs, a few at a time, say that the list is cut, and find a given job
// by name. Store calls are counted through a wrapper around the real store.
import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CronLockModule, CronLockService, RedisLockStore, type LockStore } from 'nestjs-cron-lock';
import { CronLockDashboardModule, type DashboardSnapshot } from 'nestjs-cron-lock/dashboard';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { urlOf } from './support/fleet.js';
import { CountedReads } from '../support/counted-reads.js';

const NAMES = 450;
const READS = new Set(['inspect', 'history']);

@Module({})
class ManyJobsApp {
  static of(store: LockStore): DynamicModule {
    return {
      module: ManyJobsApp,
      imports: [
        CronLockModule.forRoot({ store, logger: false }),
        CronLockDashboardModule.forRoot({ path: '/cron-lock' }),
      ],
    };
  }
}

interface Backend {
  label: string;
  open(): Promise<{ store: LockStore; close(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    label: 'a real redis-server',
    open: async () => {
      const store = new RedisLockStore(testRedisUrl(), { keyPrefix: uniquePrefix('dash-many') });
      return { store, close: () => store.close() };
    },
  },
  {
    label: 'PostgreSQL, on a pool of 10 connections',
    open: async () => {
      const pool: pg.Pool = newPool({ max: 10 });
      const table = uniqueTable('dash_many');
      const store = new PostgresLockStore(pool, { table });
      return {
        store,
        close: async () => {
          await store.close();
          await dropTable(pool, table);
          await pool.end();
        },
      };
    },
  },
];

describe.each(backends)('dashboard on $label holding hundreds of lock names', (backend) => {
  const reads = new CountedReads(READS);
  let app: INestApplication;
  let close: () => Promise<void>;
  let base: string;

  beforeAll(async () => {
    const opened = await backend.open();
    close = opened.close;
    app = await NestFactory.create(ManyJobsApp.of(reads.wrap(opened.store)), { logger: false });
    await app.listen(0, '127.0.0.1');
    base = `${await urlOf(app)}/cron-lock`;
    const locks = app.get(CronLockService);
    // `record: true` keeps each name's state on Redis too (a plain lock leaves none there).
    for (let first = 0; first < NAMES; first += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          locks.run(`tenant:${first + i}`, { record: true }, async () => undefined),
        ),
      );
    }
  });

  afterAll(async () => {
    await app?.close();
    await close?.();
  });

  it('reads at most 200 jobs per load, a few at a time, and says how many there are', async () => {
    reads.reset();
    const response = await fetch(`${base}/api/jobs`);
    expect(response.status).toBe(200);
    const snapshot = (await response.json()) as DashboardSnapshot;
    expect(snapshot.jobs).toHaveLength(200);
    expect(snapshot.totalJobs).toBe(NAMES);
    expect(snapshot.filter).toBeNull();
    // Two reads per job shown (state and history), never one per name of the store.
    expect(reads.calls).toBeLessThanOrEqual(2 * 200);
    expect(reads.maxInFlight).toBeLessThanOrEqual(8);
  });

  it('tells the reader on the page that the list is cut, and how to find a job', async () => {
    reads.reset();
    const response = await fetch(base);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html.match(/<tr data-job=/g)).toHaveLength(200);
    expect(html).toMatch(
      /<p id="cut"[^>]*>Showing the first 200 of 450 jobs \(by name\)\. Filter by name to find one\.<\/p>/,
    );
    expect(html).toContain('<input id="filter" name="job" type="search"');
    expect(reads.maxInFlight).toBeLessThanOrEqual(8);
  });

  it('finds a given job with the job query parameter, on the page and in the JSON', async () => {
    reads.reset();
    const json = (await (
      await fetch(`${base}/api/jobs?job=${encodeURIComponent('tenant:417')}`)
    ).json()) as DashboardSnapshot;
    expect(json.jobs.map((job) => job.name)).toEqual(['tenant:417']);
    expect(json.totalJobs).toBe(1);
    expect(json.filter).toBe('tenant:417');
    expect(reads.calls).toBeLessThanOrEqual(2);

    // A part of the name, in any case: every match, the exact name first.
    const some = (await (
      await fetch(`${base}/api/jobs?job=TENANT:41`)
    ).json()) as DashboardSnapshot;
    expect(some.jobs.map((job) => job.name)).toEqual([
      'tenant:41',
      ...Array.from({ length: 10 }, (_, i) => `tenant:41${i}`),
    ]);

    const html = await (await fetch(`${base}?job=tenant%3A417`)).text();
    expect(html.match(/<tr data-job="[^"]*"/g)).toEqual(['<tr data-job="tenant:417"']);
    expect(html).toContain('value="tenant:417"');
    expect(html).toMatch(/<p id="cut" hidden>/);
  });
});
