// An app booted while its store does not answer (a fleet restarted together with its Redis or
// PostgreSQL) cannot subscribe to the trigger channel at bootstrap. It must listen again by itself
// once the store answers, or the triggers of the other instances never reach it.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  RedisLockStore,
  type CronLockModuleOptions,
  type LockContext,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { RedisTcpProxy } from '../faults/support/tcp-proxy.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { uniquePrefix, waitFor } from '../support/redis.js';
import { startRedisServer } from '../support/redis-server.js';

/** The instances the job ran on, in the running test. */
const runs: string[] = [];

@Injectable()
class ReportJob {
  // Disabled: only a trigger runs it, never the scheduler.
  @LockedCron('* * * * *', { name: 'relisten-report', disabled: true })
  report(ctx: LockContext): void {
    runs.push(ctx.instanceId);
  }
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
  runs.length = 0;
});

async function boot(
  instanceId: string,
  options: CronLockModuleOptions,
  providers: Array<new () => unknown>,
): Promise<{ module: TestingModule; locks: CronLockService }> {
  const module = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), CronLockModule.forRoot({ instanceId, ...options })],
    providers,
  }).compile();
  cleanup.push(() => module.close());
  await module.init();
  return { module, locks: module.get(CronLockService) };
}

/** Counts the subscriptions `store` is asked for: the bootstrap one and every retry. */
function countSubscribes(store: PostgresLockStore | RedisLockStore): { attempts: number } {
  const counter = { attempts: 0 };
  const subscribe = store.triggers.subscribe.bind(store.triggers);
  store.triggers.subscribe = (listener) => {
    counter.attempts += 1;
    return subscribe(listener);
  };
  return counter;
}

const listenFailures = (logger: CapturingLogger): string[] =>
  logger.lines
    .filter((line) => line.message.includes('cannot listen for triggers'))
    .map((line) => line.message);

const listeningAgain = (logger: CapturingLogger): string[] =>
  logger.lines
    .filter((line) => line.message.includes('listening for triggers again'))
    .map((line) => line.message);

/** Triggers the job from `caller` until an instance runs it, or fails after `timeout` ms. */
async function triggerUntilRun(caller: CronLockService, timeout: number): Promise<unknown> {
  let last: unknown;
  await waitFor(
    async () => {
      last = await caller.trigger('relisten-report', { timeout: '1s' });
      return runs.length > 0;
    },
    { timeout, interval: 100, message: 'an instance to take the trigger' },
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; last answer: ${JSON.stringify(last)}`);
  });
  return last;
}

describe('an app whose trigger subscription failed at bootstrap', () => {
  describe('on PostgreSQL that did not answer', () => {
    /** An app store reaching PostgreSQL through a proxy, and a direct one for the other instance. */
    async function setup(label: string) {
      const admin = newPool();
      cleanup.push(() => admin.end());
      const table = uniqueTable(label);
      cleanup.push(() => dropTable(admin, table));
      const proxy = await RedisTcpProxy.start(Number(new URL(testPostgresUrl()).port));
      cleanup.push(() => proxy.close());
      const viaProxy = new URL(testPostgresUrl());
      viaProxy.port = String(proxy.port);
      const store = new PostgresLockStore(viaProxy.toString(), {
        table,
        logger: false,
        operationTimeout: 500,
      });
      cleanup.push(() => store.close());
      const other = new PostgresLockStore(admin, { table, logger: false });
      cleanup.push(() => other.close());
      return { proxy, store, other, counter: countSubscribes(store) };
    }

    it('listens again by itself once PostgreSQL answers, and runs a trigger of another instance', async () => {
      const { proxy, store, other } = await setup('relisten_pg');
      const logger = new CapturingLogger();
      proxy.partition();
      await boot('booted-in-outage', { store, logger }, [ReportJob]);
      await waitFor(() => listenFailures(logger).length > 0, {
        timeout: 15_000,
        message: 'the bootstrap subscription to fail',
      });

      proxy.heal();
      const caller = await boot('caller', { store: other, logger: false }, []);
      await triggerUntilRun(caller.locks, 30_000);
      expect(runs).toEqual(['booted-in-outage']);
      expect(listenFailures(logger)).toHaveLength(1);
      expect(listeningAgain(logger)).toHaveLength(1);
    });

    it('logs the failure once however often it tries again, and stops trying when the app closes', async () => {
      const { proxy, store, counter } = await setup('relisten_close');
      const logger = new CapturingLogger();
      proxy.partition();
      const app = await boot('closing', { store, logger }, [ReportJob]);
      await waitFor(() => counter.attempts >= 3, {
        timeout: 15_000,
        message: 'the subscription to be tried again twice',
      });
      expect(listenFailures(logger)).toHaveLength(1);

      await app.module.close();
      const attempts = counter.attempts;
      proxy.heal();
      // A bounded wait to prove that nothing more happens: longer than the first retries' backoff.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(counter.attempts).toBe(attempts);
      expect(listeningAgain(logger)).toEqual([]);
    });
  });

  describe('on Redis that was down', () => {
    it('listens again by itself once Redis is back, and runs a trigger of another instance', async () => {
      const redis = await startRedisServer();
      cleanup.push(() => redis.stop());
      await redis.stop();
      const keyPrefix = uniquePrefix('relisten');
      const store = new RedisLockStore(redis.url, { keyPrefix, logger: false });
      cleanup.push(() => store.close());
      const counter = countSubscribes(store);
      const logger = new CapturingLogger();
      await boot('booted-in-outage', { store, logger }, [ReportJob]);
      await waitFor(() => listenFailures(logger).length > 0, {
        timeout: 15_000,
        message: 'the bootstrap subscription to fail',
      });

      await redis.restart();
      const caller = await boot('caller', { redis: redis.url, keyPrefix, logger: false }, []);
      await triggerUntilRun(caller.locks, 30_000);
      expect(runs).toEqual(['booted-in-outage']);
      expect(counter.attempts).toBeGreaterThan(1);
      expect(listenFailures(logger)).toHaveLength(1);
      expect(listeningAgain(logger)).toHaveLength(1);
    });
  });
});
