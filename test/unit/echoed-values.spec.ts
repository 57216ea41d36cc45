// Guarantee 12 for bootstrap errors: a rejected option's value is echoed so the user sees what was
// wrong, and it may be a connection string put in the wrong place (two environment variables
// swapped). Every echo must hide the URL's password, whichever option, module or store says it.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import {
  CronLockConfigError,
  CronLockModule,
  LockedCron,
  MemoryLockStore,
  cronLockAclRule,
  type LockedCronOptions,
} from 'nestjs-cron-lock';
import { CronLockDashboardModule } from 'nestjs-cron-lock/dashboard';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { describe, expect, it } from 'vitest';
import { resolveEventEmitterOptions } from '../../lib/event-emitter/cron-lock-event-emitter.options.js';
import { resolvePrometheusOptions } from '../../lib/prometheus/cron-lock-prometheus.options.js';
import { resolveHealthCheckOptions } from '../../lib/terminus/cron-lock-health.options.js';

const MISPLACED = 'redis://:hunter2@cache.internal:6379';
/** Its `@` lies past the 60 characters a message keeps of a value: a cut must not bare the password. */
const MISPLACED_FAR = `${'worker-'.padEnd(45, '-')}redis://:hunter2hunter2@cache.internal:6379`;

/** The message of what `fn` threw or rejected with, which must be a configuration error. */
async function messageOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return (error as Error).message;
  }
  throw new Error('expected a rejection');
}

/** What compiling (and starting) an app with these imports and providers rejects with. */
async function bootstrapError(imports: unknown[], providers: unknown[] = []): Promise<Error> {
  const error = await Test.createTestingModule({ imports, providers } as never)
    .compile()
    .then(async (app) => {
      await app.init().finally(() => app.close());
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(CronLockConfigError);
  return error as Error;
}

function expectNoPassword(message: string): void {
  expect(message).not.toContain('hunter');
  // The rest of the value still shows (as far as the cut allows), so the user can tell what it was.
  expect(message).toMatch(/\*\*\*@cac/);
}

describe('an option value that is a misplaced connection string', () => {
  it.each([
    ['keyPrefix', MISPLACED],
    ['defaultTtl', MISPLACED],
    ['shutdownTimeout', MISPLACED],
    ['onStoreError', MISPLACED],
    ['instanceId', `${MISPLACED}/${'x'.repeat(200)}`],
    ['instanceId', `${MISPLACED_FAR}/${'x'.repeat(200)}`],
    ['keyPrefix', MISPLACED_FAR],
  ])('is echoed without its password by CronLockModule (%s, case %#)', async (option, value) => {
    const error = await bootstrapError([
      CronLockModule.forRoot({
        redis: 'redis://127.0.0.1:6379',
        logger: false,
        [option]: value,
      } as never),
    ]);
    expect(error.message).toContain(option);
    expectNoPassword(error.message);
  });

  it.each<[string, string, LockedCronOptions]>([
    ['ttl', '0 0 1 1 *', { ttl: MISPLACED as never }],
    ['minHold', '0 0 1 1 *', { minHold: MISPLACED_FAR as never }],
    ['lock name', '0 0 1 1 *', { name: MISPLACED }],
    ['timeZone', '0 0 1 1 *', { timeZone: MISPLACED }],
    ['invalid cron expression', MISPLACED, {}],
  ])('is echoed without its password by @LockedCron (%s)', async (what, cronTime, options) => {
    @Injectable()
    class MisplacedJob {
      @LockedCron(cronTime, options)
      async work(): Promise<void> {}
    }
    const error = await bootstrapError(
      [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false }),
      ],
      [MisplacedJob],
    );
    expect(error.message).toContain('MisplacedJob.work');
    expect(error.message).toContain(what);
    expectNoPassword(error.message);
  });

  it.each([
    ['path', { path: MISPLACED }],
    ['refreshInterval', { path: '/cron-lock', refreshInterval: MISPLACED }],
  ])('is echoed without its password by CronLockDashboardModule (%s)', async (option, options) => {
    const message = await messageOf(() => CronLockDashboardModule.forRoot(options as never));
    expect(message).toContain(option);
    expectNoPassword(message);
  });

  it.each([
    ['table', { table: MISPLACED }],
    ['schema', { schema: MISPLACED }],
    ['createTable', { createTable: MISPLACED }],
    ['operationTimeout', { operationTimeout: MISPLACED }],
  ])('is echoed without its password by PostgresLockStore (%s)', async (option, options) => {
    // Every one of these is checked before the store opens a connection.
    const message = await messageOf(
      () => new PostgresLockStore('postgres://127.0.0.1:1/none', options as never),
    );
    expect(message).toContain(option);
    expectNoPassword(message);
  });

  it.each<[string, () => unknown]>([
    ['cronLockAclRule keyPrefix', () => cronLockAclRule(MISPLACED)],
    ['prometheus prefix', () => resolvePrometheusOptions({ prefix: MISPLACED })],
    ['event emitter prefix', () => resolveEventEmitterOptions({ prefix: MISPLACED })],
    ['health timeout', () => resolveHealthCheckOptions({ timeout: MISPLACED as never })],
    [
      'health maxRoundTripMs',
      () => resolveHealthCheckOptions({ maxRoundTripMs: MISPLACED as never }),
    ],
  ])('is echoed without its password by the integrations (%s)', async (_label, fn) => {
    expectNoPassword(await messageOf(fn));
  });
});
