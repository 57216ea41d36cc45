// The integrations check their options as the module checks its own: a misspelt key
// (`registery`, `eventPrefix`, `maxRoundTrip`) was read as left out, so the metrics went to the
// global register, the events kept the names other handlers listen to, and the health check
// stayed up with no round-trip limit, all without a word; options that are not an object failed
// with a bare TypeError, or (the health check's) were taken as none at all.
import { Module, type DynamicModule } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { TerminusModule } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import { CronLockConfigError, CronLockModule, MemoryLockStore } from 'nestjs-cron-lock';
import { CronLockEventEmitterModule } from 'nestjs-cron-lock/event-emitter';
import { CronLockPrometheusModule } from 'nestjs-cron-lock/prometheus';
import { CronLockHealthIndicator, CronLockHealthModule } from 'nestjs-cron-lock/terminus';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';

const apps: TestingModule[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function boot(...integrations: (DynamicModule | typeof CronLockHealthModule)[]) {
  @Module({
    imports: [
      CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false }),
      ...integrations,
    ],
  })
  class AppModule {}
  const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
  apps.push(app);
  await app.init();
  return app;
}

async function bootError(...integrations: DynamicModule[]): Promise<Error> {
  let caught: unknown;
  try {
    await boot(...integrations);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CronLockConfigError);
  return caught as Error;
}

describe('the integrations refuse options they do not know', () => {
  it.each<[string, string, unknown]>([
    ['registery', 'registry', new Registry()],
    ['Prefix', 'prefix', 'jobs_'],
    ['runDurationBucket', 'runDurationBuckets', [1, 10]],
  ])(
    'CronLockPrometheusModule.forRoot({ %s }) fails app.init() naming the key and the one meant',
    async (key, meant, value) => {
      const options = { [key]: value };
      const { message } = await bootError(CronLockPrometheusModule.forRoot(options as never));
      expect(message).toMatch(/^CronLockPrometheusModule\.forRoot: unknown option /);
      expect(message).toContain(`unknown option ${key} (did you mean ${meant}?)`);
      expect(message).toContain(`Fix: rename it to ${meant}`);
    },
  );

  it.each<[Record<string, unknown>, string | undefined]>([
    [{ eventPrefix: 'jobs' }, undefined],
    [{ prefx: 'jobs' }, 'prefix'],
  ])(
    'CronLockEventEmitterModule.forRoot(%j) fails app.init() naming the key',
    async (options, meant) => {
      const { message } = await bootError(
        EventEmitterModule.forRoot(),
        CronLockEventEmitterModule.forRoot(options as never),
      );
      expect(message).toMatch(/^CronLockEventEmitterModule\.forRoot: unknown option /);
      expect(message).toContain(
        meant === undefined ? 'Fix: remove it; the options are prefix' : `did you mean ${meant}?`,
      );
    },
  );

  it.each<[unknown]>([[null], ['jobs_'], [[1]]])(
    'CronLockPrometheusModule.forRoot(%j) fails app.init() saying options are an object',
    async (options) => {
      const { message } = await bootError(CronLockPrometheusModule.forRoot(options as never));
      expect(message).toMatch(/^CronLockPrometheusModule\.forRoot: the options must be an object/);
      expect(message).toContain('Fix:');
    },
  );

  it.each<[unknown]>([[null], ['jobs']])(
    'CronLockEventEmitterModule.forRoot(%j) fails app.init() saying options are an object',
    async (options) => {
      const { message } = await bootError(
        EventEmitterModule.forRoot(),
        CronLockEventEmitterModule.forRoot(options as never),
      );
      expect(message).toMatch(
        /^CronLockEventEmitterModule\.forRoot: the options must be an object/,
      );
    },
  );

  it.each<[unknown, RegExp]>([
    [{ maxRoundTrip: 100 }, /unknown option maxRoundTrip \(did you mean maxRoundTripMs\?\)/],
    [{ timeoutMs: 500 }, /unknown option timeoutMs .*the options are maxRoundTripMs, timeout/],
    [null, /the options must be an object/],
    ['cron-lock', /the options must be an object/],
  ])('isHealthy with options %j rejects naming the fix', async (options, expected) => {
    const app = await boot(TerminusModule.forRoot({ logger: false }), CronLockHealthModule);
    const checking = app.get(CronLockHealthIndicator).isHealthy('cron-lock', options as never);
    await expect(checking).rejects.toBeInstanceOf(CronLockConfigError);
    await expect(checking).rejects.toThrow(expected);
    await expect(checking).rejects.toThrow(/^CronLockHealthIndicator\.isHealthy: .*Fix:/);
  });

  it('still takes the options each integration knows', async () => {
    const registry = new Registry();
    const app = await boot(
      CronLockPrometheusModule.forRoot({ registry, prefix: 'jobs_', runDurationBuckets: [1, 10] }),
      EventEmitterModule.forRoot(),
      CronLockEventEmitterModule.forRoot({ prefix: 'jobs' }),
      TerminusModule.forRoot({ logger: false }),
      CronLockHealthModule,
    );
    expect(registry.getSingleMetric('jobs_runs_total')).toBeDefined();
    const health = await app
      .get(CronLockHealthIndicator)
      .isHealthy('cron-lock', { maxRoundTripMs: 1_000, timeout: '1s', window: '1m' });
    expect(health['cron-lock'].status).toBe('up');
  });
});
