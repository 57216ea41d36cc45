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
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
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
