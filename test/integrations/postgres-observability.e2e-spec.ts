// The metrics and the health indicator of an app whose lock store is PostgreSQL.
import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { CronLockPrometheusModule } from 'nestjs-cron-lock/prometheus';
import { CronLockHealthIndicator, CronLockHealthModule } from 'nestjs-cron-lock/terminus';
import { startSilentProxy, type SilentProxy } from '../cli/silent-proxy.js';
import {
  dropTable,
  newPool,
  retryOutOfTime,
  testPostgresUrl,
  uniqueTable,
} from '../support/postgres.js';
import { parseMetrics, sampleValue } from './support/metrics-text.js';

const apps: TestingModule[] = [];
const pools: pg.Pool[] = [];
const tables: string[] = [];

async function boot(registry: Registry): Promise<TestingModule> {
  const pool = newPool();
  pools.push(pool);
  const table = uniqueTable('observability');
  tables.push(table);
  @Module({
    imports: [
      CronLockModule.forRoot({
        store: new PostgresLockStore(pool, { table, logger: false }),
        logger: false,
      }),
      CronLockPrometheusModule.forRoot({ registry }),
      TerminusModule.forRoot({ logger: false }),
      CronLockHealthModule,
    ],
  })
  class AppModule {}
  const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
  apps.push(app);
  await app.init();
  return app;
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  const pool = pools[0];
  if (pool) {
    await Promise.all(tables.splice(0).map((table) => dropTable(pool, table)));
  }
  await Promise.all(pools.splice(0).map((pool) => pool.end()));
});

describe('metrics and health check on PostgresLockStore', () => {
  // A plain run() takes the lean path, which reads no pause: its answer says nothing about one.
  it('keeps a paused job at 1 in the paused gauge and in pausedJobs after a plain run() of its name', async () => {
    const registry = new Registry();
    const app = await boot(registry);
    const locks = app.get(CronLockService);
    const paused = async () =>
      sampleValue(parseMetrics(await registry.metrics()), 'cron_lock_paused', { job: 'report' });

    await locks.pause('report', { reason: 'maintenance' });
    expect(await paused()).toBe(1);

    expect(await locks.run('report', { ttl: '5s' }, () => 'ran')).toMatchObject({
      ran: true,
      value: 'ran',
    });

    expect((await locks.inspect('report')).paused).toBe(true);
    expect(await paused()).toBe(1);
    expect(locks.pausedJobs).toEqual(['report']);
    const health = await app.get(CronLockHealthIndicator).isHealthy();
    expect(health['cron-lock']).toMatchObject({ status: 'up', pausedJobs: ['report'] });

    await locks.resume('report');
    expect(await paused()).toBe(0);
  });
});

describe('health check on PostgresLockStore when no connection comes from the pool', () => {
  const proxies: SilentProxy[] = [];
  const stores: PostgresLockStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });

  async function healthOf(store: PostgresLockStore): Promise<string> {
    stores.push(store);
    @Module({
      imports: [
        CronLockModule.forRoot({ store, logger: false }),
        TerminusModule.forRoot({ logger: false }),
        CronLockHealthModule,
      ],
    })
    class AppModule {}
    const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
    apps.push(app);
    await app.init();
    const health = await app.get(CronLockHealthIndicator).isHealthy('cron-lock', { timeout: '5s' });
    expect(health['cron-lock'].status).toBe('down');
    return String(health['cron-lock'].message);
  }

  it('sends the operator to the database, not to the pool size, when PostgreSQL stops answering', async () => {
    // A server that takes connections and never answers: a frozen database, or one cut off.
    const target = new URL(testPostgresUrl());
    const proxy = await startSilentProxy(Number(target.port), 0);
    proxies.push(proxy);
    target.port = String(proxy.port);
    const store = new PostgresLockStore(target.toString(), {
      table: uniqueTable('hung'),
      operationTimeout: 300,
      logger: false,
    });

    const message = await healthOf(store);

    expect(message).toContain('no PostgreSQL connection from the pool within 300ms');
    expect(message).toMatch(/check that PostgreSQL is up and reachable/);
    expect(message).not.toMatch(/raise the pool's max/);
  });

  it('names both causes, the database first, when the app holds every connection of the pool it passed', async () => {
    const pool = newPool({ max: 1 });
    pools.push(pool);
    const table = uniqueTable('pool_full');
    tables.push(table);
    const store = new PostgresLockStore(pool, { table, operationTimeout: 300, logger: false });
    // Its first connection and the table check, under a bound a loaded machine can exceed.
    await retryOutOfTime(() => store.ping());
    const held = await pool.connect();

    try {
      const message = await healthOf(store);

      expect(message).toContain('no PostgreSQL connection from the pool within 300ms');
      expect(message).toMatch(/all 1 connection\(s\) of the pool .*in use/);
      // Both causes, the database's first: from here the store cannot tell a database that
      // answers none of those connections from an app that keeps them.
      expect(message).toMatch(/check that PostgreSQL .* if it (is|does), raise the pool's max/);
    } finally {
      held.release();
    }
  });
});
