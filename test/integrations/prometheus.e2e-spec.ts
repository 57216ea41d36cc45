import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test, type TestingModule } from '@nestjs/testing';
import { Registry, register } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  MemoryLockStore,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';
import {
  CronLockMetrics,
  CronLockPrometheusModule,
  type CronLockPrometheusOptions,
} from 'nestjs-cron-lock/prometheus';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { findFreePort } from '../support/redis-server.js';
import { parseMetrics, sampleValue, type Sample } from './support/metrics-text.js';

const apps: TestingModule[] = [];

async function boot(
  lock: CronLockModuleOptions,
  metrics: CronLockPrometheusOptions = {},
): Promise<TestingModule> {
  @Module({
    imports: [CronLockModule.forRoot(lock), CronLockPrometheusModule.forRoot(metrics)],
  })
  class AppModule {}
  const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
  apps.push(app);
  await app.init();
  return app;
}

async function scrape(registry: Registry): Promise<Sample[]> {
  return parseMetrics(await registry.metrics());
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

describe('CronLockPrometheusModule', () => {
  it('counts runs, skips, lost locks and store errors of real runs against Redis, exactly', async () => {
    const registry = new Registry();
    const keyPrefix = uniquePrefix('prometheus');
    const app = await boot({ redis: testRedisUrl(), keyPrefix, logger: false }, { registry });
    const locks = app.get(CronLockService);

    // Two completed runs, one failed run.
    await locks.run('report', { ttl: '10s' }, () => 'ok');
    await locks.run('report', { ttl: '10s' }, () => 'ok');
    await expect(
      locks.run('report', { ttl: '10s' }, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    // A run that holds the lock while a second one is refused (`held`); the gauge sees it.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const long = locks.run('report', { ttl: '10s' }, () => gate);
    await waitFor(
      async () =>
        sampleValue(await scrape(registry), 'cron_lock_held_locks', { job: 'report' }) === 1,
      { timeout: 10_000, message: 'held_locks{job="report"} = 1' },
    );
    expect(await locks.run('report', { ttl: '10s' }, () => 'never')).toEqual({
      ran: false,
      reason: 'held',
    });
    open();
    await long;

    // One occurrence run, then refused as `tick-done`.
    await locks.run('report', { ttl: '10s', scheduledAt: 60_000 }, () => 'ok');
    expect(await locks.run('report', { ttl: '10s', scheduledAt: 60_000 }, () => 'never')).toEqual({
      ran: false,
      reason: 'tick-done',
    });

    // A lost lock: its key deleted mid-run.
    const redis = newRedisClient();
    try {
      await locks.run('nightly', { ttl: 900 }, async (ctx) => {
        await redis.del(`${keyPrefix}:{nightly}:lock`);
        await waitFor(() => ctx.signal.aborted, { timeout: 10_000, message: 'signal aborted' });
      });
    } finally {
      await redis.quit();
    }

    // A second instance whose store is unreachable (a closed port): a store error.
    const otherRegistry = new Registry();
    const closedPort = await findFreePort();
    const other = await boot(
      { redis: `redis://127.0.0.1:${closedPort}`, keyPrefix, logger: false },
      { registry: otherRegistry },
    );
    expect(await other.get(CronLockService).run('report', { ttl: '10s' }, () => 'never')).toEqual({
      ran: false,
      reason: 'store-error',
    });

    const samples = await scrape(registry);
    const value = (name: string, labels: Record<string, string>) =>
      sampleValue(samples, `cron_lock_${name}`, labels);
    expect(value('runs_total', { job: 'report', outcome: 'completed' })).toBe(4);
    expect(value('runs_total', { job: 'report', outcome: 'failed' })).toBe(1);
    expect(value('runs_total', { job: 'nightly', outcome: 'completed' })).toBe(1);
    expect(value('skips_total', { job: 'report', reason: 'held' })).toBe(1);
    expect(value('skips_total', { job: 'report', reason: 'tick-done' })).toBe(1);
    expect(value('skips_total', { job: 'report', reason: 'store-error' })).toBe(0);
    expect(value('locks_lost_total', { job: 'nightly', reason: 'expired' })).toBe(1);
    expect(value('locks_lost_total', { job: 'report', reason: 'expired' })).toBe(0);
    expect(value('alerts_total', { job: 'nightly', kind: 'lost' })).toBe(1);
    expect(value('alerts_total', { job: 'report', kind: 'lost' })).toBe(0);
    expect(value('store_errors_total', { job: 'report', operation: 'acquire' })).toBe(0);
    expect(value('run_duration_seconds_count', { job: 'report', outcome: 'completed' })).toBe(4);
    expect(value('run_duration_seconds_count', { job: 'report', outcome: 'failed' })).toBe(1);
    // 5 acquisitions taken + 2 refused (held, tick-done): every answered round trip.
    expect(value('acquire_duration_seconds_count', { job: 'report' })).toBe(7);
    expect(value('acquire_duration_seconds_count', { job: 'nightly' })).toBe(1);
    expect(value('acquire_duration_seconds_sum', { job: 'report' })).toBeGreaterThan(0);
    expect(value('held_locks', { job: 'report' })).toBe(0);
    expect(value('held_locks', { job: 'nightly' })).toBe(0);

    const otherSamples = await scrape(otherRegistry);
    expect(
      sampleValue(otherSamples, 'cron_lock_store_errors_total', {
        job: 'report',
        operation: 'acquire',
      }),
    ).toBe(1);
    expect(
      sampleValue(otherSamples, 'cron_lock_skips_total', { job: 'report', reason: 'store-error' }),
    ).toBe(1);
    expect(
      sampleValue(otherSamples, 'cron_lock_acquire_duration_seconds_count', { job: 'report' }),
    ).toBeUndefined();

    // Labels carry job names and outcomes only: no instance id, no token.
    const labelValues = [...samples, ...otherSamples].flatMap((sample) =>
      Object.entries(sample.labels)
        .filter(([key]) => key !== 'le')
        .map(([, labelValue]) => labelValue),
    );
    expect(new Set(labelValues)).toEqual(
      new Set([
        'report',
        'nightly',
        'completed',
        'failed',
        'held',
        'tick-done',
        'paused',
        'store-error',
        'shutting-down',
        'queued',
        'merged',
        'expired',
        'taken',
        'unconfirmed',
        'acquire',
        'renew',
        'release',
        'missed-success',
        'store-failures',
        'lost',
      ]),
    );
  });

  it('registers in the global register by default and unregisters on app.close()', async () => {
    const app = await boot({ store: new MemoryLockStore(), logger: false });
    await app.get(CronLockService).run('report', { ttl: '5s' }, () => 'ok');

    const samples = parseMetrics(await register.metrics());
    expect(
      sampleValue(samples, 'cron_lock_runs_total', { job: 'report', outcome: 'completed' }),
    ).toBe(1);

    await apps.pop()!.close();
    expect(register.getSingleMetric('cron_lock_runs_total')).toBeUndefined();
    // A later app of the same process (a test suite, a hot reload) registers them again.
    const again = await boot({ store: new MemoryLockStore(), logger: false });
    expect(again.get(CronLockMetrics).metrics.runs).toBe(
      register.getSingleMetric('cron_lock_runs_total'),
    );
  });

  it('shows a paused job as 1 in the paused gauge and counts its paused skips', async () => {
    const registry = new Registry();
    const app = await boot({ store: new MemoryLockStore(), logger: false }, { registry });
    const locks = app.get(CronLockService);
    await locks.run('report', { ttl: '5s' }, () => 'ok');
    expect(sampleValue(await scrape(registry), 'cron_lock_paused', { job: 'report' })).toBe(0);

    await locks.pause('report', { reason: 'maintenance' });
    const scheduledAt = Date.now() - 1_000;
    expect(await locks.run('report', { ttl: '5s', scheduledAt }, () => 'never')).toEqual({
      ran: false,
      reason: 'paused',
    });
    const paused = await scrape(registry);
    expect(sampleValue(paused, 'cron_lock_paused', { job: 'report' })).toBe(1);
    expect(sampleValue(paused, 'cron_lock_skips_total', { job: 'report', reason: 'paused' })).toBe(
      1,
    );

    await locks.resume('report');
    expect(sampleValue(await scrape(registry), 'cron_lock_paused', { job: 'report' })).toBe(0);
  });

  // Paused and resumed before this instance ran or skipped it: a series that vanished on resume
  // would leave only 1s in range, and `min_over_time(cron_lock_paused[1d]) == 1` would not clear.
  it('shows 0 in the paused gauge once a job paused before any run here is resumed', async () => {
    const registry = new Registry();
    const app = await boot(
      { redis: testRedisUrl(), keyPrefix: uniquePrefix('prometheus-paused'), logger: false },
      { registry },
    );
    const locks = app.get(CronLockService);

    await locks.pause('nightly', { reason: 'maintenance' });
    expect(sampleValue(await scrape(registry), 'cron_lock_paused', { job: 'nightly' })).toBe(1);

    await locks.resume('nightly');
    expect(sampleValue(await scrape(registry), 'cron_lock_paused', { job: 'nightly' })).toBe(0);
  });

  it('uses the prefix option for every metric name', async () => {
    const registry = new Registry();
    await boot({ store: new MemoryLockStore(), logger: false }, { registry, prefix: 'jobs_' });
    const names = registry
      .getMetricsAsArray()
      .map((metric) => metric.name)
      .sort();
    expect(names).toEqual([
      'jobs_acquire_duration_seconds',
      'jobs_alerts_total',
      'jobs_held_locks',
      'jobs_locks_lost_total',
      'jobs_missed_occurrences_total',

      'jobs_paused',
      'jobs_run_duration_seconds',
      'jobs_runs_total',
      'jobs_skips_total',
      'jobs_store_errors_total',
    ]);
  });

  it('fails app.init() with the fix when two apps share one registry at once', async () => {
    const registry = new Registry();
    await boot({ store: new MemoryLockStore(), logger: false }, { registry });
    await expect(
      boot({ store: new MemoryLockStore(), logger: false }, { registry }),
    ).rejects.toThrow(/cron_lock_held_locks is already registered.*registry: new Registry\(\)/);
    // The first app's metrics are untouched.
    expect(registry.getMetricsAsArray()).toHaveLength(10);
  });

  // A worker that retries its bootstrap in the same process (its queue was not up yet): the
  // failed attempt is never handed back, so nothing can close it, and the next attempt must boot.
  it('lets a bootstrap retried in the same process register the metrics after one that failed in another module', async () => {
    const registry = new Registry();
    let queueUp = false;
    @Injectable()
    class QueueConnection implements OnModuleInit {
      onModuleInit(): void {
        if (!queueUp) {
          throw new Error('queue unreachable');
        }
      }
    }
    @Module({
      imports: [
        CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false }),
        CronLockPrometheusModule.forRoot({ registry }),
      ],
      providers: [QueueConnection],
    })
    class WorkerModule {}
    const start = () =>
      NestFactory.createApplicationContext(WorkerModule, { logger: false, abortOnError: false });

    await expect(start()).rejects.toThrow('queue unreachable');
    // The app that never started reports nothing: a scrape would read its dead service.
    expect(registry.getMetricsAsArray().map((metric) => metric.name)).toEqual([]);

    queueUp = true;
    const app = await start();
    try {
      await app.get(CronLockService).run('report', { ttl: '5s' }, () => 'ok');
      expect(
        sampleValue(await scrape(registry), 'cron_lock_runs_total', {
          job: 'report',
          outcome: 'completed',
        }),
      ).toBe(1);
    } finally {
      await app.close();
    }
    expect(registry.getMetricsAsArray()).toEqual([]);
  });

  // `registry: this.config.registry` (unset) must not quietly put the metrics in the global one.
  it.each([
    ['registry', undefined],
    ['registry', null],
    ['prefix', undefined],
    ['prefix', null],
    ['runDurationBuckets', undefined],
    ['acquireDurationBuckets', null],
  ])('rejects %s: %s at bootstrap instead of taking its default', async (option, value) => {
    await expect(
      boot({ store: new MemoryLockStore(), logger: false }, { [option]: value }),
    ).rejects.toThrow(
      new RegExp(`CronLockPrometheusModule\\.forRoot: option ${option} is present but .*Fix:`),
    );
    expect(register.getSingleMetric('cron_lock_runs_total')).toBeUndefined();
  });

  it('rejects an invalid prefix at bootstrap, naming the option', async () => {
    await expect(
      boot({ store: new MemoryLockStore(), logger: false }, { prefix: 'cron-lock-' }),
    ).rejects.toThrow(/CronLockPrometheusModule\.forRoot: prefix "cron-lock-"/);
  });
});
