import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  LockedCron,
  LockStoreError,
  MemoryLockStore,
  type CronLockEvents,
  type CronLockModuleOptions,
  type LockContext,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { CapturingLogger } from '../support/capturing-logger.js';
import { testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { startRedisServer } from '../support/redis-server.js';

/** Runs of the yearly job, from every app of the running test. */
const runs: Array<{ instanceId: string; trigger: string; fencingToken: number }> = [];
/** While set, the yearly job waits for it (a run in progress); `fail` makes it throw. */
const control: { gate: Promise<void> | null; fail: boolean } = { gate: null, fail: false };

@Injectable()
class YearlyJob {
  // Once a year: no scheduler tick gets in the way of the test.
  @LockedCron('0 0 1 1 *', { ttl: '10s', name: 'trigger-yearly' })
  async report(ctx: LockContext): Promise<string> {
    runs.push({ instanceId: ctx.instanceId, trigger: ctx.trigger, fencingToken: ctx.fencingToken });
    if (control.gate) {
      await control.gate;
    }
    if (control.fail) {
      throw new Error('report failed');
    }
    return 'done';
  }
}

@Injectable()
class OtherJob {
  @LockedCron('0 0 1 1 *', { name: 'trigger-other' })
  async other(): Promise<void> {}
}

interface App {
  module: TestingModule;
  locks: CronLockService;
  triggered: Array<CronLockEvents['triggered']>;
}

describe('CronLockService.trigger()', () => {
  let apps: App[] = [];

  afterEach(async () => {
    await Promise.all(apps.map((app) => app.module.close()));
    apps = [];
    runs.length = 0;
    control.gate = null;
    control.fail = false;
  });

  async function boot(
    instanceId: string,
    options: CronLockModuleOptions,
    providers: Array<typeof YearlyJob | typeof OtherJob> = [YearlyJob],
  ): Promise<App> {
    const module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ instanceId, logger: false, ...options }),
      ],
      providers,
    }).compile();
    const locks = module.get(CronLockService);
    const app: App = { module, locks, triggered: [] };
    locks.on('triggered', (event) => app.triggered.push(event));
    apps.push(app);
    await module.init();
    return app;
  }

  /** Closes one app before the others (the test's own afterEach closes the rest). */
  async function closeApp(app: App): Promise<void> {
    apps = apps.filter((other) => other !== app);
    await app.module.close();
  }

  /** Three apps with the job on one Redis prefix, plus one without it (the caller). */
  async function redisFleet(): Promise<{ caller: App; workers: App[] }> {
    const keyPrefix = uniquePrefix('trigger');
    const redis = testRedisUrl();
    const workers = await Promise.all(
      ['w-1', 'w-2', 'w-3'].map((id) => boot(id, { redis, keyPrefix })),
    );
    const caller = await boot('caller', { redis, keyPrefix }, []);
    return { caller, workers };
  }

  describe('on Redis', () => {
    it('runs the job once across three instances, as a manual run, and says where', async () => {
      const { caller, workers } = await redisFleet();

      const result = await caller.locks.trigger('trigger-yearly');

      expect(result).toMatchObject({ ran: true, name: 'trigger-yearly' });
      if (!result.ran) throw new Error('not ran');
      expect(['w-1', 'w-2', 'w-3']).toContain(result.instanceId);
      await waitFor(() => runs.length >= 1, { timeout: 10_000, message: 'the run' });
      expect(runs).toEqual([
        { instanceId: result.instanceId, trigger: 'manual', fencingToken: result.fencingToken },
      ]);
      const events = workers.flatMap((app) => app.triggered);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        name: 'trigger-yearly',
        instanceId: result.instanceId,
        forced: false,
      });
    });

    it('runs each of several triggers once, and an instance with the job may run its own', async () => {
      const { workers } = await redisFleet();

      const results = [];
      for (let i = 0; i < 5; i++) {
        results.push(await workers[i % 3].locks.trigger('trigger-yearly', { wait: true }));
      }

      expect(results.every((result) => result.ran && result.outcome === 'completed')).toBe(true);
      expect(runs).toHaveLength(5);
      expect(new Set(runs.map((run) => run.fencingToken)).size).toBe(5);
      expect(workers.flatMap((app) => app.triggered)).toHaveLength(5);
    });

    it('waits for the end of the run with wait, and reports a failure', async () => {
      const { caller } = await redisFleet();
      control.fail = true;

      const result = await caller.locks.trigger('trigger-yearly', { wait: true });

      expect(result).toMatchObject({ ran: true, outcome: 'failed' });
    });

    it('answers held while a run of the job is in progress', async () => {
      const { caller } = await redisFleet();
      let open!: () => void;
      control.gate = new Promise<void>((resolve) => (open = resolve));
      const first = await caller.locks.trigger('trigger-yearly');
      expect(first.ran).toBe(true);

      const second = await caller.locks.trigger('trigger-yearly');

      open();
      expect(second).toMatchObject({ ran: false, reason: 'held' });
      expect(runs).toHaveLength(1);
    });

    it('answers paused for a paused job, and runs it with force', async () => {
      const { caller } = await redisFleet();
      await caller.locks.pause('trigger-yearly', { reason: 'vendor outage' });

      const refused = await caller.locks.trigger('trigger-yearly');
      expect(refused).toMatchObject({ ran: false, reason: 'paused' });
      expect(runs).toHaveLength(0);

      const forced = await caller.locks.trigger('trigger-yearly', { force: true, wait: true });
      expect(forced).toMatchObject({ ran: true, outcome: 'completed' });
      expect(runs).toHaveLength(1);
    });

    it('reports a trigger of a paused job as refused on the instance that took it, never as taken', async () => {
      const keyPrefix = uniquePrefix('trigger-paused');
      const redis = testRedisUrl();
      const logger = new CapturingLogger();
      const worker = await boot('w-1', { redis, keyPrefix, logger });
      const caller = await boot('caller', { redis, keyPrefix }, []);
      await caller.locks.pause('trigger-yearly');

      const refused = await caller.locks.trigger('trigger-yearly');

      expect(refused).toMatchObject({ ran: false, reason: 'paused', instanceId: 'w-1' });
      // The taker logs and emits before it replies: nothing more can come of this request.
      const triggerLines = logger.lines.filter((line) =>
        /triggered|trigger refused/.test(line.message),
      );
      expect(triggerLines.map((line) => line.message)).toEqual([
        expect.stringMatching(
          /^trigger-yearly: trigger refused, not run: the job is paused .*force/,
        ),
      ]);
      expect(triggerLines[0].level).toBe('log');
      expect(worker.triggered).toEqual([]);

      const forced = await caller.locks.trigger('trigger-yearly', { force: true, wait: true });
      expect(forced).toMatchObject({ ran: true, outcome: 'completed' });
      expect(worker.triggered).toEqual([expect.objectContaining({ forced: true })]);
      expect(logger.lines.map((line) => line.message)).toContain(
        'trigger-yearly: triggered (forced), running it on this instance',
      );
    });

    it('answers no-live-instance at once when nobody else listens', async () => {
      const caller = await boot(
        'alone',
        { redis: testRedisUrl(), keyPrefix: uniquePrefix('t') },
        [],
      );

      const result = await caller.locks.trigger('trigger-yearly', { timeout: '1m' });

      expect(result).toEqual({ ran: false, name: 'trigger-yearly', reason: 'no-live-instance' });
    });

    it('answers no-live-instance after the timeout when the listening instances lack the job', async () => {
      const keyPrefix = uniquePrefix('trigger-other');
      await boot('other', { redis: testRedisUrl(), keyPrefix }, [OtherJob]);
      const caller = await boot('caller', { redis: testRedisUrl(), keyPrefix }, []);

      const result = await caller.locks.trigger('trigger-yearly', { timeout: '500ms' });

      expect(result).toEqual({ ran: false, name: 'trigger-yearly', reason: 'no-live-instance' });
      expect(runs).toHaveLength(0);
    });

    it("settles a wait with outcome 'unknown' as soon as the caller's app closes", async () => {
      const { caller } = await redisFleet();
      let open!: () => void;
      control.gate = new Promise<void>((resolve) => (open = resolve));
      let settled: unknown = 'pending';
      void caller.locks.trigger('trigger-yearly', { wait: true }).then(
        (result) => (settled = result),
        (error: unknown) => (settled = error),
      );
      await waitFor(() => runs.length === 1, { message: 'the run' });
      // This answer comes on the channel after the first run's `started` reply: once it is in,
      // the first call waits for the end of its run.
      expect(await caller.locks.trigger('trigger-yearly')).toMatchObject({ reason: 'held' });

      await closeApp(caller);

      try {
        await waitFor(() => settled !== 'pending', { timeout: 3_000, message: 'the wait to end' });
      } finally {
        open();
      }
      expect(settled).toMatchObject({
        ran: true,
        name: 'trigger-yearly',
        instanceId: runs[0].instanceId,
        fencingToken: runs[0].fencingToken,
        outcome: 'unknown',
      });
    });

    it("answers shutting-down as soon as the caller's app closes before any instance answered", async () => {
      const keyPrefix = uniquePrefix('trigger-closing');
      // A listener on the channel that lacks the job: the request waits for its timeout.
      const listener = newRedisClient();
      const heard: string[] = [];
      listener.on('message', (_channel: string, message: string) => heard.push(message));
      try {
        await listener.subscribe(`${keyPrefix}:triggers`);
        const caller = await boot('caller', { redis: testRedisUrl(), keyPrefix }, []);
        let settled: unknown = 'pending';
        void caller.locks.trigger('trigger-yearly', { timeout: '1m' }).then(
          (result) => (settled = result),
          (error: unknown) => (settled = error),
        );
        await waitFor(() => heard.length >= 1, { message: 'the request on the channel' });
        expect(settled).toBe('pending');

        await closeApp(caller);

        await waitFor(() => settled !== 'pending', {
          timeout: 3_000,
          message: 'the request to end',
        });
        expect(settled).toEqual({ ran: false, name: 'trigger-yearly', reason: 'shutting-down' });
      } finally {
        await listener.quit();
      }
    });

    it("answers shutting-down, and sends nothing, when the caller's app closes while its first trigger() subscribes", async () => {
      const { caller } = await redisFleet();

      // The caller has no job: its first trigger() opens the subscriber connection, and the app
      // starts closing before that connection listens.
      const result = caller.locks.trigger('trigger-yearly', { timeout: '3s' });
      const closing = closeApp(caller);

      // Not `no-live-instance` after the call's 3 s timeout, which a request sent anyway gave.
      expect(await result).toEqual({ ran: false, name: 'trigger-yearly', reason: 'shutting-down' });
      await closing;
      // A request sent anyway reaches a worker within milliseconds; 300ms shows none was.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(runs).toEqual([]);
    });

    it('rejects with a LockStoreError naming the call when Redis accepts connections but does not answer', async () => {
      const server = await startRedisServer();
      try {
        const caller = await boot(
          'caller',
          { redis: server.url, keyPrefix: uniquePrefix('t') },
          [],
        );
        // Frozen (as behind a partition): the subscriber connects, and its SUBSCRIBE waits.
        server.kill('SIGSTOP');

        const error: unknown = await caller.locks
          .trigger('trigger-yearly', { timeout: '300ms' })
          .then(
            () => null,
            (rejection: unknown) => rejection,
          );

        expect(error).toBeInstanceOf(LockStoreError);
        expect((error as Error).message).toContain('CronLockService.trigger("trigger-yearly")');
        expect((error as Error).message).toContain('300ms');
        server.kill('SIGCONT');
        await closeApp(caller);
      } finally {
        server.kill('SIGCONT');
        await server.stop();
      }
    });

    it('never reaches the jobs of another key prefix', async () => {
      await boot('w-1', { redis: testRedisUrl(), keyPrefix: uniquePrefix('a') });
      const caller = await boot(
        'caller',
        { redis: testRedisUrl(), keyPrefix: uniquePrefix('b') },
        [],
      );

      const result = await caller.locks.trigger('trigger-yearly', { timeout: '500ms' });

      expect(result).toMatchObject({ ran: false, reason: 'no-live-instance' });
      expect(runs).toHaveLength(0);
    });
  });

  describe('on PostgreSQL (LISTEN/NOTIFY)', () => {
    const stores: PostgresLockStore[] = [];

    afterEach(async () => {
      await Promise.all(apps.splice(0).map((app) => app.module.close()));
      await Promise.all(stores.splice(0).map((store) => store.close()));
    });

    /** Each app its own store and pool, as separate instances have. */
    function storeOn(table: string): PostgresLockStore {
      const store = new PostgresLockStore(testPostgresUrl(), { table, logger: false });
      stores.push(store);
      return store;
    }

    it('runs the job once across three instances, and says no-live-instance with none', async () => {
      const table = uniqueTable('trigger');
      const workers = await Promise.all(
        ['p-1', 'p-2', 'p-3'].map((id) => boot(id, { store: storeOn(table) })),
      );
      const caller = await boot('caller', { store: storeOn(table) }, []);

      const result = await caller.locks.trigger('trigger-yearly', { wait: true });

      expect(result).toMatchObject({ ran: true, outcome: 'completed' });
      expect(runs).toHaveLength(1);
      expect(runs[0].trigger).toBe('manual');
      expect(workers.flatMap((app) => app.triggered)).toHaveLength(1);
      // The claim rows are not jobs.
      expect(await stores[0].jobNames()).toEqual(['trigger-yearly']);

      const elsewhere = await boot('lonely', { store: storeOn(uniqueTable('none')) }, []);
      expect(await elsewhere.locks.trigger('trigger-yearly', { timeout: '1s' })).toMatchObject({
        ran: false,
        reason: 'no-live-instance',
      });
    });
  });

  describe('on the memory store', () => {
    it('runs the job once among the apps sharing the store', async () => {
      const store = new MemoryLockStore();
      const workers = await Promise.all(['m-1', 'm-2'].map((id) => boot(id, { store })));
      const caller = await boot('caller', { store }, []);

      const result = await caller.locks.trigger('trigger-yearly', { wait: true });

      expect(result).toMatchObject({ ran: true, outcome: 'completed' });
      expect(runs).toHaveLength(1);
      expect(runs[0].trigger).toBe('manual');
      expect(workers.flatMap((app) => app.triggered)).toHaveLength(1);
    });

    it('answers paused for a paused job, and runs it with force', async () => {
      const store = new MemoryLockStore();
      await boot('m-1', { store });
      const caller = await boot('caller', { store }, []);
      await caller.locks.pause('trigger-yearly');

      expect(await caller.locks.trigger('trigger-yearly')).toMatchObject({
        ran: false,
        reason: 'paused',
      });
      expect(await caller.locks.trigger('trigger-yearly', { force: true })).toMatchObject({
        ran: true,
      });
    });
  });

  it('refuses a bad name or option, naming the call and the fix', async () => {
    const app = await boot('bad', { store: new MemoryLockStore() }, []);

    await expect(app.locks.trigger('no spaces')).rejects.toThrow(CronLockConfigError);
    await expect(
      app.locks.trigger('job', { timeuot: '1s' } as unknown as { timeout: number }),
    ).rejects.toThrow(
      /CronLockService\.trigger\("job"\): unknown option "?timeuot"? \(did you mean timeout\?\)/,
    );
    await expect(app.locks.trigger('job', { timeout: 0 })).rejects.toThrow(/timeout/);
    await expect(app.locks.trigger('job', { timeout: 2 ** 31 })).rejects.toThrow(/2147483647/);
    await expect(
      app.locks.trigger('job', { force: 'yes' } as unknown as { force: boolean }),
    ).rejects.toThrow(/force must be true or false/);
  });
});
