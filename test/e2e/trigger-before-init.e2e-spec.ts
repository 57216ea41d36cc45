// trigger() on a job's name before CronLockModule bound the app's jobs: from a provider's
// constructor, and from the onModuleInit of a global module that Nest initialises before the lock
// module (real redis-server, memory store), on a single instance that has the job.
import { Global, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  RedisLockStore,
  type CronLockModuleOptions,
  type LockContext,
  type TriggerChannel,
  type TriggerResult,
} from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';

const JOB = 'Reports.nightly';

/** The triggers of the job that reached its body, in the running test. */
const runs: string[] = [];

@Injectable()
class Reports {
  // Never due in a test: only the trigger() calls below run it.
  @LockedCron('0 0 1 1 *', { ttl: '10s' })
  nightly(ctx: LockContext): void {
    runs.push(ctx.trigger);
  }
}

/** The app's options, and the store's trigger channel as another listener (no job) hears it. */
interface Fixture {
  options: CronLockModuleOptions;
  channel: TriggerChannel;
  close: () => Promise<void>;
}

const STORES: Array<[string, () => Fixture]> = [
  [
    'memory',
    () => {
      const store = new MemoryLockStore();
      const options = { store, logger: new CapturingLogger() };
      return { options, channel: store.triggers, close: () => store.close() };
    },
  ],
  [
    'redis',
    () => {
      const keyPrefix = uniquePrefix('trigger-at-init');
      const listener = new RedisLockStore(testRedisUrl(), { keyPrefix, logger: false });
      const options = { redis: testRedisUrl(), keyPrefix, logger: false as const };
      return { options, channel: listener.triggers, close: () => listener.close() };
    },
  ],
];

describe.each(STORES)(
  'trigger() on a job name before the lock module bound its jobs (%s)',
  (_, make) => {
    let fixture: Fixture;
    let module: TestingModule | undefined;

    afterEach(async () => {
      await module?.close();
      module = undefined;
      await fixture.close();
      runs.length = 0;
    });

    /** The app, with `warmup` in a global module imported first: Nest initialises it first. */
    async function compile(warmup: new (...args: never[]) => unknown): Promise<TestingModule> {
      @Global()
      @Module({ providers: [warmup] })
      class WarmupModule {}
      module = await Test.createTestingModule({
        imports: [
          WarmupModule,
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({ instanceId: 'only', ...fixture.options }),
        ],
        providers: [Reports],
      }).compile();
      return module;
    }

    it('runs the job on this instance once its jobs are bound, when a constructor calls it', async () => {
      fixture = make();
      let pending: Promise<TriggerResult> | undefined;
      @Injectable()
      class Warmup {
        constructor(locks: CronLockService) {
          // Not awaited, as a constructor can only do: the answer is read after init below. Its
          // timeout runs from here, through the rest of compile() and init(): the default 5 s,
          // taken in part by the first test's one-time loading, is tight on a loaded machine.
          // Before the fix the answer was no-live-instance whatever the timeout.
          pending = locks.trigger(JOB, { timeout: '20s' });
        }
      }
      const app = await compile(Warmup);
      await app.init();
      expect(await pending).toMatchObject({ ran: true, name: JOB, instanceId: 'only' });
      expect(runs).toEqual(['manual']);
      const history = await app.get(CronLockService).history(JOB);
      expect(history.map((entry) => entry.outcome)).toEqual(['completed']);
    });

    it('runs the job on this instance when its request would reach this instance before the binding', async () => {
      fixture = make();
      let heard!: () => void;
      const requestHeard = new Promise<void>((resolve) => (heard = resolve));
      const listening = await fixture.channel.subscribe((message) => {
        if (message.kind === 'request') {
          heard();
        }
      });
      let pending: Promise<TriggerResult> | undefined;
      @Injectable()
      class Warmup implements OnModuleInit {
        constructor(private readonly locks: CronLockService) {}
        async onModuleInit(): Promise<void> {
          // A timeout that covers the rest of init on a loaded machine: before the fix, the
          // request heard here was answered no-live-instance at this timeout.
          pending = this.locks.trigger(JOB, { timeout: '20s' });
          // Holds Nest's init (so the binding) until the request is out. Bounded and short: a
          // request held back until the binding is never heard here, and the hold ends at 500ms.
          let bound: NodeJS.Timeout | undefined;
          const hold = new Promise<void>((resolve) => (bound = setTimeout(resolve, 500)));
          await Promise.race([requestHeard, hold]);
          clearTimeout(bound);
        }
      }
      try {
        const app = await compile(Warmup);
        await app.init();
        expect(await pending).toMatchObject({ ran: true, name: JOB, instanceId: 'only' });
        expect(runs).toEqual(['manual']);
      } finally {
        await listening.close();
      }
    });

    it("lets another instance with the job run it when an earlier module's onModuleInit of an app without the job awaits it", async () => {
      fixture = make();
      // The worker: another instance, bound and listening, that has the job.
      const worker = await Test.createTestingModule({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({ ...fixture.options, instanceId: 'worker' }),
        ],
        providers: [Reports],
      }).compile();
      await worker.init();
      try {
        let result: TriggerResult | undefined;
        @Injectable()
        class Warmup implements OnModuleInit {
          constructor(private readonly locks: CronLockService) {}
          async onModuleInit(): Promise<void> {
            // Awaited before this app's binding: only the worker can take it, and it does.
            result = await this.locks.trigger(JOB, { timeout: '3s' });
          }
        }
        @Global()
        @Module({ providers: [Warmup] })
        class WarmupModule {}
        // The caller: a web app with the lock module and none of the worker's jobs.
        module = await Test.createTestingModule({
          imports: [
            WarmupModule,
            CronLockModule.forRoot({ ...fixture.options, instanceId: 'web' }),
          ],
        }).compile();
        await module.init();
        expect(result).toMatchObject({ ran: true, name: JOB, instanceId: 'worker' });
        expect(runs).toEqual(['manual']);
      } finally {
        await worker.close();
      }
    });

    it("rejects init with a CronLockConfigError naming the call and the fix when an earlier module's onModuleInit awaits it", async () => {
      fixture = make();
      @Injectable()
      class Warmup implements OnModuleInit {
        constructor(private readonly locks: CronLockService) {}
        async onModuleInit(): Promise<void> {
          // Nest binds the jobs only after this resolves: the wait can never end in a run.
          await this.locks.trigger(JOB, { timeout: '300ms' });
        }
      }
      const init = (await compile(Warmup)).init();
      await expect(init).rejects.toThrow(CronLockConfigError);
      await expect(init).rejects.toThrow(
        /CronLockService\.trigger\("Reports\.nightly"\).*onApplicationBootstrap/s,
      );
      expect(runs).toEqual([]);
    });
  },
);

describe('trigger() before the binding, its first request still being sent when the app closes', () => {
  let module: TestingModule | undefined;
  afterEach(async () => {
    await module?.close();
    module = undefined;
    runs.length = 0;
  });

  it('sends nothing more on the store once the app has closed', async () => {
    // The store is the user's (the module never closes it): whatever is sent on it after
    // app.close() went out from an app that said it was done.
    const store = new MemoryLockStore();
    const publish = store.triggers.publish.bind(store.triggers);
    const sent: Array<{ id: string; afterClose: boolean }> = [];
    let closed = false;
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstSent!: () => void;
    const firstOut = new Promise<void>((resolve) => (firstSent = resolve));
    store.triggers.publish = async (message) => {
      if (message.kind === 'request') {
        sent.push({ id: message.id, afterClose: closed });
        if (sent.length === 1) {
          // The first request's round trip outlasts the binding and the close.
          firstSent();
          await firstHeld;
        }
      }
      return publish(message);
    };
    let pending: Promise<TriggerResult> | undefined;
    @Injectable()
    class Warmup {
      constructor(locks: CronLockService) {
        pending = locks.trigger(JOB, { timeout: '20s' });
      }
    }
    @Global()
    @Module({ providers: [Warmup] })
    class WarmupModule {}
    const app = await Test.createTestingModule({
      imports: [
        WarmupModule,
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ store, instanceId: 'only', logger: false }),
      ],
      providers: [Reports],
    }).compile();
    module = app;
    await app.init();
    await firstOut;
    await app.close();
    module = undefined;
    closed = true;

    releaseFirst();
    // Settles once the call has seen its first request sent: the second is sent, if ever, before.
    expect(await pending).toMatchObject({ ran: false, name: JOB, reason: 'shutting-down' });
    expect(sent).toEqual([{ id: expect.any(String), afterClose: false }]);
    expect(runs).toEqual([]);
    await store.close();
  });
});
