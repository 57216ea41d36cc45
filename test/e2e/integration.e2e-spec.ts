// Nest integration: real apps booted with @nestjs/testing, per-second jobs observed through the
// runs they record (counted, never timed), and locked methods called directly where a run must
// be started at a known moment. MemoryLockStore unless the case is about Redis.
import {
  Controller,
  Inject,
  Injectable,
  Module,
  type LoggerService,
  type ModuleMetadata,
} from '@nestjs/common';
import { Cron, Interval, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLock,
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  ShutdownTimeoutError,
  type CronLockEventName,
  type CronLockModuleOptions,
  type CronLockOptionsFactory,
  type LockContext,
} from 'nestjs-cron-lock';
import { runLockedJob } from 'nestjs-cron-lock/testing';
import { CapturingLogger } from '../support/capturing-logger.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

const EVERY_SECOND = '* * * * * *';
/** Never fires during a test: such jobs run when the test calls them. */
const YEARLY = '0 0 1 1 *';

// ---------------------------------------------------------------------------------------------
// Helpers

interface Run {
  job: string;
  name: string;
  scheduledAt: number;
  fencingToken: number;
  startedAt: number;
  aborted: boolean;
}

/** What the jobs of one app ran, provided in every app. */
@Injectable()
class Runs {
  readonly all: Run[] = [];

  record(job: string, ctx: LockContext): void {
    this.all.push({
      job,
      name: ctx.name,
      scheduledAt: ctx.scheduledAt.getTime(),
      fencingToken: ctx.fencingToken,
      startedAt: Date.now(),
      aborted: ctx.signal.aborted,
    });
  }

  of(job: string): Run[] {
    return this.all.filter((run) => run.job === job);
  }
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

/** Calls a locked method as application code would; the lock supplies its context. */
function callLocked<T>(
  instance: object,
  method: (ctx: LockContext) => Promise<T>,
): Promise<T | undefined> {
  return (method as unknown as (this: object) => Promise<T | undefined>).call(instance);
}

/** The module with a memory store, chosen explicitly, unless `options` name redis or a store. */
function lockModule(options: CronLockModuleOptions = {}) {
  const store = 'redis' in options || 'store' in options ? {} : { store: new MemoryLockStore() };
  return CronLockModule.forRoot({ logger: false, shutdownTimeout: '2s', ...store, ...options });
}

const open: TestingModule[] = [];
const clients: Redis[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((ref) => ref.close()));
  await Promise.all(clients.splice(0).map((client) => client.quit().catch(() => undefined)));
});

async function boot(metadata: ModuleMetadata, logger?: LoggerService): Promise<TestingModule> {
  const builder = Test.createTestingModule(metadata);
  if (logger) {
    builder.setLogger(logger);
  }
  const ref = await builder.compile();
  open.push(ref);
  await ref.init();
  return ref;
}

/** Closes an app booted with {@link boot}, so afterEach does not close it again. */
async function close(ref: TestingModule): Promise<void> {
  open.splice(open.indexOf(ref), 1);
  await ref.close();
}

function redisClient(): Redis {
  const client = newRedisClient();
  clients.push(client);
  return client;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

@Injectable()
class EverySecondJob {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @LockedCron(EVERY_SECOND, { ttl: '5s', name: 'every-second' })
  async tick(ctx: LockContext): Promise<void> {
    this.runs.record('tick', ctx);
  }
}

@Controller()
class ScheduledController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @LockedCron(EVERY_SECOND, '5s')
  async sweep(ctx: LockContext): Promise<void> {
    this.runs.record('controller', ctx);
  }
}

@Injectable()
abstract class BaseCleanup {
  constructor(@Inject(Runs) protected readonly runs: Runs) {}

  @LockedCron(EVERY_SECOND, '5s')
  async purge(ctx: LockContext): Promise<void> {
    this.runs.record('inherited', ctx);
  }
}

@Injectable()
class SessionCleanup extends BaseCleanup {}

@Injectable()
class RegistryJobs {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @LockedCron(EVERY_SECOND, { ttl: '5s', name: 'registry-enabled' })
  async enabled(ctx: LockContext): Promise<void> {
    this.runs.record('enabled', ctx);
  }

  @LockedCron(EVERY_SECOND, { ttl: '5s', name: 'registry-disabled', disabled: true })
  async disabled(ctx: LockContext): Promise<void> {
    this.runs.record('disabled', ctx);
  }
}

@Injectable()
class ComposedJobs {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Cron(EVERY_SECOND)
  @CronLock({ ttl: '5s' })
  async cronAbove(ctx: LockContext): Promise<void> {
    this.runs.record('cron-above', ctx);
  }

  @CronLock({ ttl: '5s' })
  @Cron(EVERY_SECOND)
  async cronBelow(ctx: LockContext): Promise<void> {
    this.runs.record('cron-below', ctx);
  }

  @Interval(200)
  @CronLock({ ttl: '5s' })
  async interval(ctx: LockContext): Promise<void> {
    this.runs.record('interval', ctx);
  }
}

interface ContextSeen {
  name: string;
  scheduledAt: Date;
  fencingToken: number;
  abortedAtStart: boolean;
  startedAt: number;
  extended: boolean;
  ttlLeftAfterExtend: number | null;
}

@Injectable()
class ContextJob {
  readonly seen: ContextSeen[] = [];

  constructor(@Inject(CronLockService) private readonly locks: CronLockService) {}

  @LockedCron(EVERY_SECOND, { ttl: '5s', name: 'context-job' })
  async inspectContext(ctx: LockContext): Promise<void> {
    const startedAt = Date.now();
    const abortedAtStart = ctx.signal.aborted;
    await ctx.extend('30s');
    const state = await this.locks.inspect(ctx.name);
    this.seen.push({
      name: ctx.name,
      scheduledAt: ctx.scheduledAt,
      fencingToken: ctx.fencingToken,
      abortedAtStart,
      startedAt,
      extended: true,
      ttlLeftAfterExtend: state.ttlLeft,
    });
  }
}

@Injectable()
class ListedJobs {
  @LockedCron(YEARLY)
  async first(): Promise<void> {}

  @LockedCron(YEARLY, { name: 'listed-second' })
  async second(): Promise<void> {}
}

/** A job the test holds open, to observe the lock while it runs and across shutdown. */
@Injectable()
class HeldJob {
  started = deferred<LockContext>();
  finish = deferred<string>();
  done = false;

  @LockedCron(YEARLY, { ttl: '2s', name: 'held-job' })
  async hold(ctx: LockContext): Promise<string> {
    this.started.resolve(ctx);
    const value = await this.finish.promise;
    this.done = true;
    return value;
  }
}

/** A job that ignores shutdown until its signal aborts, and reports why it did. */
@Injectable()
class StubbornJob {
  started = deferred<LockContext>();
  abortReason: unknown;

  @LockedCron(YEARLY, { ttl: '2s', name: 'stubborn-job' })
  async hold(ctx: LockContext): Promise<string> {
    this.started.resolve(ctx);
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    this.abortReason = ctx.signal.reason;
    return 'aborted';
  }
}

// A ConfigService-like provider in a module of its own, as @nestjs/config does it.
@Injectable()
class FakeConfig {
  readonly store = new MemoryLockStore();
  private readonly values: Record<string, string> = { INSTANCE_ID: 'from-config' };
  getOrThrow(key: string): string {
    const value = this.values[key];
    if (value === undefined) {
      throw new Error(`missing ${key}`);
    }
    return value;
  }
}

@Module({ providers: [FakeConfig], exports: [FakeConfig] })
class FakeConfigModule {}

class ClassOptions implements CronLockOptionsFactory {
  createCronLockOptions(): CronLockModuleOptions {
    return { store: new MemoryLockStore(), instanceId: 'from-class', logger: false };
  }
}

@Injectable()
class ExistingOptions implements CronLockOptionsFactory {
  calls = 0;
  createCronLockOptions(): CronLockModuleOptions {
    this.calls += 1;
    return { store: new MemoryLockStore(), instanceId: 'from-existing', logger: false };
  }
}

@Module({ providers: [ExistingOptions], exports: [ExistingOptions] })
class ExistingOptionsModule {}

@Injectable()
class FeatureService {
  constructor(@Inject(CronLockService) readonly locks: CronLockService) {}
}

@Module({ providers: [FeatureService] })
class FeatureModule {}

// ---------------------------------------------------------------------------------------------

describe('Nest integration', () => {
  describe('module order', () => {
    it.each([
      ['ScheduleModule', false],
      ['CronLockModule', true],
    ])('runs a locked job with %s imported first', async (_first, lockFirst) => {
      const store = new MemoryLockStore();
      const modules = [ScheduleModule.forRoot(), lockModule({ store })];
      const ref = await boot({
        imports: lockFirst ? modules.reverse() : modules,
        providers: [Runs, EverySecondJob],
      });
      const runs = ref.get(Runs);
      await waitFor(() => runs.of('tick').length >= 1, { timeout: 5_000, message: 'a run' });
      const [run] = runs.of('tick');
      expect(run.name).toBe('every-second');
      expect(run.fencingToken).toBeGreaterThan(0);
      // The run went through the store: the occurrence is recorded there.
      const state = await store.inspect('every-second');
      expect(state.lastTick).toBeGreaterThanOrEqual(run.scheduledAt);
    });
  });

  describe('forRootAsync', () => {
    it('builds the options with useFactory from a provider of an imported module', async () => {
      const ref = await boot({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRootAsync({
            imports: [FakeConfigModule],
            inject: [FakeConfig],
            useFactory: async (config: FakeConfig) => ({
              store: config.store,
              instanceId: config.getOrThrow('INSTANCE_ID'),
              logger: false,
            }),
          }),
        ],
      });
      const service = ref.get(CronLockService);
      expect(service.instanceId).toBe('from-config');
      await service.run('factory-job', {}, () => undefined);
      // The lock was taken in the store the factory returned.
      expect((await ref.get(FakeConfig).store.inspect('factory-job')).fencingToken).toBe(1);
    });

    it('builds the options with useClass', async () => {
      const ref = await boot({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRootAsync({ useClass: ClassOptions }),
        ],
      });
      expect(ref.get(CronLockService).instanceId).toBe('from-class');
    });

    it('builds the options with useExisting from an imported module', async () => {
      const ref = await boot({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRootAsync({
            imports: [ExistingOptionsModule],
            useExisting: ExistingOptions,
          }),
        ],
      });
      expect(ref.get(CronLockService).instanceId).toBe('from-existing');
      expect(ref.get(ExistingOptions).calls).toBe(1);
    });

    it('is global by default: a feature module injects CronLockService without importing it', async () => {
      const ref = await boot({ imports: [ScheduleModule.forRoot(), lockModule(), FeatureModule] });
      expect(ref.get(FeatureService).locks).toBe(ref.get(CronLockService));
    });

    it('is global by default with forRootAsync too', async () => {
      const ref = await boot({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRootAsync({ useClass: ClassOptions }),
          FeatureModule,
        ],
      });
      expect(ref.get(FeatureService).locks).toBe(ref.get(CronLockService));
    });

    it.each([
      [
        'forRoot',
        () =>
          CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false, isGlobal: false }),
      ],
      [
        'forRootAsync',
        () => CronLockModule.forRootAsync({ useClass: ClassOptions, isGlobal: false }),
      ],
    ])(
      'with isGlobal false (%s), a feature module that does not import it cannot inject it',
      async (_how, module) => {
        await expect(
          Test.createTestingModule({
            imports: [ScheduleModule.forRoot(), module(), FeatureModule],
          }).compile(),
        ).rejects.toThrow(/CronLockService/);
      },
    );

    it('with isGlobal false, the importing module still injects it and locks its jobs', async () => {
      @Injectable()
      class RootService {
        constructor(@Inject(CronLockService) readonly locks: CronLockService) {}
      }
      const ref = await boot({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false, isGlobal: false }),
        ],
        providers: [RootService, HeldJob],
      });
      const result = await ref.get(RootService).locks.run('root-job', {}, () => 'ran');
      expect(result).toMatchObject({ ran: true, value: 'ran' });
      const job = ref.get(HeldJob);
      job.finish.resolve('held');
      expect(await callLocked(job, job.hold)).toBe('held');
    });
  });

  describe('decorated methods', () => {
    it('runs @LockedCron on a controller', async () => {
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule()],
        controllers: [ScheduledController],
        providers: [Runs],
      });
      const runs = ref.get(Runs);
      await waitFor(() => runs.of('controller').length >= 1, { message: 'a controller run' });
      expect(runs.of('controller')[0]).toMatchObject({ name: 'ScheduledController.sweep' });
      expect(runs.of('controller')[0].fencingToken).toBeGreaterThan(0);
    });

    it('runs an inherited @LockedCron method under the name SubClass.method', async () => {
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule()],
        providers: [Runs, SessionCleanup],
      });
      const runs = ref.get(Runs);
      await waitFor(() => runs.of('inherited').length >= 1, { message: 'an inherited run' });
      expect(runs.of('inherited')[0].name).toBe('SessionCleanup.purge');
    });

    it('registers a named job in SchedulerRegistry, and a disabled one without running it', async () => {
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule()],
        providers: [Runs, RegistryJobs],
      });
      const registry = ref.get(SchedulerRegistry);
      expect(registry.getCronJob('registry-enabled').isActive).toBe(true);
      expect(registry.getCronJob('registry-disabled').isActive).toBe(false);
      const runs = ref.get(Runs);
      // Two occurrences of the enabled job have passed: the disabled one had its chances.
      await waitFor(() => new Set(runs.of('enabled').map((run) => run.scheduledAt)).size >= 2, {
        message: 'two runs of the enabled job',
      });
      expect(runs.of('disabled')).toEqual([]);
    });

    it('locks @CronLock combined with @Cron in both orders and with @Interval', async () => {
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule()],
        providers: [Runs, ComposedJobs],
      });
      const runs = ref.get(Runs);
      const jobs = ['cron-above', 'cron-below', 'interval'];
      await waitFor(() => jobs.every((job) => runs.of(job).length >= 2), {
        timeout: 8_000,
        message: 'two runs of each composed job',
      });
      for (const job of jobs) {
        const seen = runs.of(job);
        const fences = seen.map((run) => run.fencingToken);
        expect(fences[0]).toBeGreaterThan(0);
        for (let i = 1; i < fences.length; i += 1) {
          expect(fences[i]).toBeGreaterThan(fences[i - 1]);
        }
        // Each occurrence ran once.
        expect(new Set(seen.map((run) => run.scheduledAt)).size).toBe(seen.length);
      }
      expect(runs.of('cron-above')[0].name).toBe('ComposedJobs.cronAbove');
      expect(runs.of('cron-below')[0].name).toBe('ComposedJobs.cronBelow');
      expect(runs.of('cron-above').every((run) => run.scheduledAt % 1_000 === 0)).toBe(true);
      expect(runs.of('interval').every((run) => run.scheduledAt % 200 === 0)).toBe(true);
    });

    it('hands the method a LockContext for the cron occurrence', async () => {
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule()],
        providers: [ContextJob],
      });
      const job = ref.get(ContextJob);
      await waitFor(() => job.seen.length >= 1, { message: 'a run of the context job' });
      const [seen] = job.seen;
      expect(seen.name).toBe('context-job');
      expect(seen.scheduledAt).toBeInstanceOf(Date);
      expect(seen.scheduledAt.getMilliseconds()).toBe(0);
      expect(seen.scheduledAt.getTime()).toBeLessThanOrEqual(seen.startedAt);
      expect(seen.startedAt - seen.scheduledAt.getTime()).toBeLessThan(1_000);
      expect(seen.fencingToken).toBeGreaterThan(0);
      expect(seen.abortedAtStart).toBe(false);
      expect(seen.extended).toBe(true);
      // extend('30s') outlasts the job's own 5s ttl.
      expect(seen.ttlLeftAfterExtend).toBeGreaterThan(5_000);
    });
  });

  describe('CronLockService.run', () => {
    async function service(): Promise<CronLockService> {
      const ref = await boot({ imports: [ScheduleModule.forRoot(), lockModule()] });
      return ref.get(CronLockService);
    }

    it('runs fn under the lock and returns its value', async () => {
      const locks = await service();
      const result = await locks.run('manual', { ttl: '5s' }, (ctx) => `fence ${ctx.fencingToken}`);
      expect(result).toMatchObject({ ran: true, value: 'fence 1' });
      if (result.ran) {
        expect(result.ctx.name).toBe('manual');
      }
    });

    it('skips a second concurrent run of the same name as held', async () => {
      const locks = await service();
      const gate = deferred();
      const first = locks.run('exclusive', {}, () => gate.promise.then(() => 'first'));
      await waitFor(async () => (await locks.inspect('exclusive')).holder !== null);
      const second = await locks.run('exclusive', {}, () => 'second');
      expect(second).toEqual({ ran: false, reason: 'held' });
      gate.resolve();
      expect(await first).toMatchObject({ ran: true, value: 'first' });
    });

    it('runs one scheduledAt once: the second run is tick-done', async () => {
      const locks = await service();
      const scheduledAt = new Date('2025-01-01T00:00:00.000Z');
      expect(await locks.run('occurrence', { scheduledAt }, () => 1)).toMatchObject({
        ran: true,
        value: 1,
      });
      expect(await locks.run('occurrence', { scheduledAt }, () => 2)).toEqual({
        ran: false,
        reason: 'tick-done',
      });
    });

    it('rejects with what fn throws and releases the lock', async () => {
      const locks = await service();
      const boom = new Error('boom');
      await expect(
        locks.run('throws', {}, () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect((await locks.inspect('throws')).holder).toBeNull();
      expect(await locks.run('throws', {}, () => 'again')).toMatchObject({
        ran: true,
        value: 'again',
      });
    });

    it('rejects a bad name with CronLockConfigError', async () => {
      const locks = await service();
      await expect(locks.run('a b', {}, () => 1)).rejects.toBeInstanceOf(CronLockConfigError);
      await expect(locks.run('x{y}', {}, () => 1)).rejects.toThrow(/Fix:/);
    });
  });

  describe('inspect', () => {
    it('shows this instance holding a running job, then the finished state', async () => {
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule({ instanceId: 'inspector' })],
        providers: [HeldJob],
      });
      const locks = ref.get(CronLockService);
      const job = ref.get(HeldJob);
      // As a scheduler tick: a direct call would be a manual run, which claims no occurrence.
      const running = runLockedJob(ref, 'held-job');
      const ctx = await job.started.promise;

      const during = await locks.inspect('held-job');
      expect(during).toMatchObject({ name: 'held-job', holder: 'inspector', runningHere: true });
      expect(during.ttlLeft).toBeGreaterThan(0);
      expect(during.ttlLeft).toBeLessThanOrEqual(2_000);

      job.finish.resolve('finished');
      expect(await running).toMatchObject({ ran: true, value: 'finished' });
      const after = await locks.inspect('held-job');
      expect(after).toMatchObject({ holder: null, ttlLeft: null, runningHere: false });
      expect(after.lastTick?.getTime()).toBe(ctx.scheduledAt.getTime());
      expect(after.fencingToken).toBe(ctx.fencingToken);
    });

    it('lists the decorated jobs of the app without arguments', async () => {
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule()],
        providers: [ListedJobs],
      });
      const states = await ref.get(CronLockService).inspect();
      expect(states.map((state) => state.name)).toEqual(['ListedJobs.first', 'listed-second']);
      expect(states.every((state) => state.holder === null && state.runningHere === false)).toBe(
        true,
      );
    });
  });

  describe('events', () => {
    const EVENTS: CronLockEventName[] = [
      'acquired',
      'skipped',
      'renewed',
      'lost',
      'released',
      'completed',
      'failed',
      'store-error',
    ];

    async function service(logger?: LoggerService): Promise<CronLockService> {
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule(logger ? { logger } : {})],
      });
      return ref.get(CronLockService);
    }

    function record(
      locks: CronLockService,
    ): Array<{ event: string; payload: Record<string, unknown> }> {
      const seen: Array<{ event: string; payload: Record<string, unknown> }> = [];
      for (const event of EVENTS) {
        locks.on(event, (payload) =>
          seen.push({ event, payload: payload as unknown as Record<string, unknown> }),
        );
      }
      return seen;
    }

    it('emits acquired, completed, released in order for a successful run', async () => {
      const locks = await service();
      const seen = record(locks);
      await locks.run('evented', {}, () => 'ok');
      expect(seen.map((entry) => entry.event)).toEqual(['acquired', 'completed', 'released']);
      expect(seen.every((entry) => entry.payload.name === 'evented')).toBe(true);
      expect(seen[0].payload.fencingToken).toBe(1);
      expect(seen[2].payload.released).toBe(true);
    });

    it('emits skipped with the reason', async () => {
      const locks = await service();
      const gate = deferred();
      const first = locks.run('contended', {}, () => gate.promise);
      await waitFor(async () => (await locks.inspect('contended')).holder !== null);
      const seen = record(locks);
      await locks.run('contended', {}, () => undefined);
      gate.resolve();
      await first;
      expect(seen[0]).toMatchObject({
        event: 'skipped',
        payload: { name: 'contended', reason: 'held' },
      });
    });

    it('emits failed with the error', async () => {
      const locks = await service();
      const seen = record(locks);
      const boom = new Error('failed job');
      await expect(
        locks.run('failing', {}, () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(seen.map((entry) => entry.event)).toEqual(['acquired', 'failed', 'released']);
      expect(seen[1].payload.error).toBe(boom);
    });

    it('keeps running when a listener throws, and logs the listener failure', async () => {
      const logger = new CapturingLogger();
      const locks = await service(logger);
      locks.on('acquired', () => {
        throw new Error('bad listener');
      });
      const completed: string[] = [];
      locks.on('completed', (payload) => completed.push(payload.name));
      expect(await locks.run('listened', {}, () => 'ok')).toMatchObject({ ran: true, value: 'ok' });
      expect(completed).toEqual(['listened']);
      expect((await locks.inspect('listened')).holder).toBeNull();
      expect(
        logger.lines.some(
          (line) => line.level === 'error' && line.message.includes('bad listener'),
        ),
      ).toBe(true);
    });

    it('on() returns a function that unsubscribes the listener', async () => {
      const locks = await service();
      const seen: string[] = [];
      const unsubscribe = locks.on('completed', (payload) => seen.push(payload.name));
      await locks.run('first-run', {}, () => undefined);
      unsubscribe();
      await locks.run('second-run', {}, () => undefined);
      expect(seen).toEqual(['first-run']);
    });
  });

  describe('logging', () => {
    it('logs one line per run at debug with job, occurrence, outcome and fence, and nothing for an occurrence that already ran', async () => {
      const logger = new CapturingLogger();
      const ref = await boot({ imports: [ScheduleModule.forRoot(), lockModule({ logger })] });
      const locks = ref.get(CronLockService);
      const scheduledAt = new Date('2025-06-01T12:00:00.000Z');
      await locks.run('logged-job', { scheduledAt }, () => undefined);
      await locks.run('logged-job', { scheduledAt }, () => undefined);

      const mine = logger.lines.filter((line) => line.message.includes('logged-job'));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ level: 'debug', context: 'CronLock' });
      expect(mine[0].message).toContain('completed');
      expect(mine[0].message).toContain(scheduledAt.toISOString());
      expect(mine[0].message).toContain('fence 1');
    });

    it('logs a held skip with its reason', async () => {
      const logger = new CapturingLogger();
      const ref = await boot({ imports: [ScheduleModule.forRoot(), lockModule({ logger })] });
      const locks = ref.get(CronLockService);
      const gate = deferred();
      const first = locks.run('busy-job', {}, () => gate.promise);
      await waitFor(async () => (await locks.inspect('busy-job')).holder !== null);
      await locks.run('busy-job', {}, () => undefined);
      gate.resolve();
      await first;
      const debug = logger.lines.filter(
        (line) => line.level === 'debug' && line.message.includes('busy-job skipped'),
      );
      expect(debug).toHaveLength(1);
      expect(debug[0].message).toContain('another run holds the lock');
    });

    it('with logger false writes nothing, where the default logger writes through Nest', async () => {
      const silent = new CapturingLogger();
      const quiet = await boot(
        {
          imports: [
            ScheduleModule.forRoot(),
            CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false }),
          ],
          providers: [HeldJob],
        },
        silent,
      );
      const quietLocks = quiet.get(CronLockService);
      await quietLocks.run('quiet-job', { scheduledAt: 0 }, () => undefined);
      await quietLocks.run('quiet-job', { scheduledAt: 0 }, () => undefined);
      await expect(
        quietLocks.run('quiet-fail', {}, () => Promise.reject(new Error('x'))),
      ).rejects.toThrow('x');
      await close(quiet);
      expect(silent.lines.filter((line) => line.context === 'CronLock')).toEqual([]);

      // Control: without `logger`, the same app writes through Nest's Logger (context CronLock),
      // starting with the in-memory store warning.
      const heard = new CapturingLogger();
      const loud = await boot(
        {
          imports: [
            ScheduleModule.forRoot(),
            CronLockModule.forRoot({ store: new MemoryLockStore() }),
          ],
          providers: [HeldJob],
        },
        heard,
      );
      await loud.get(CronLockService).run('loud-job', {}, () => undefined);
      const lines = heard.lines.filter((line) => line.context === 'CronLock');
      expect(
        lines.some((line) => line.level === 'warn' && line.message.includes('in-memory')),
      ).toBe(true);
      expect(
        lines.some(
          (line) => line.message.includes('loud-job') && line.message.includes('completed'),
        ),
      ).toBe(true);
    });
  });

  describe('Redis clients', () => {
    it('reuses a client passed as redis and never closes it', async () => {
      const client = redisClient();
      const observer = redisClient();
      const keyPrefix = uniquePrefix('reused-client');
      const clientId = String(await client.client('ID'));
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule({ redis: client, keyPrefix })],
      });
      const result = await ref.get(CronLockService).run('reused', { record: true }, async () => {
        // The acquire just ran: as the last command of the client we passed, seen from outside.
        return String(await observer.client('LIST', 'ID', clientId));
      });
      expect(result.ran && result.value).toMatch(/ cmd=eval(sha)? /);
      expect(await observer.exists(`${keyPrefix}:{reused}:state`)).toBe(1);

      await close(ref);
      expect(client.status).toBe('ready');
      expect(await client.ping()).toBe('PONG');
      await observer.del(`${keyPrefix}:{reused}:state`);
    });

    it('closes the client it created from a URL on app.close()', async () => {
      const observer = redisClient();
      const connectionName = uniquePrefix('own-client');
      const url = new URL(testRedisUrl());
      url.searchParams.set('connectionName', connectionName);
      const keyPrefix = uniquePrefix('own-client');
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule({ redis: url.toString(), keyPrefix })],
      });
      expect(await ref.get(CronLockService).run('owned', {}, () => 'ran')).toMatchObject({
        ran: true,
      });
      const connected = async (): Promise<boolean> =>
        String(await observer.client('LIST')).includes(`name=${connectionName} `);
      expect(await connected()).toBe(true);

      await close(ref);
      await waitFor(async () => !(await connected()), {
        message: 'the module client to disconnect',
      });
      await observer.del(`${keyPrefix}:{owned}:state`);
    });
  });

  describe('shutdown', () => {
    it('waits for a running job that ends within shutdownTimeout, then releases its lock', async () => {
      const store = new MemoryLockStore();
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule({ store, shutdownTimeout: '10s' })],
        providers: [HeldJob],
      });
      const job = ref.get(HeldJob);
      const running = callLocked(job, job.hold);
      await job.started.promise;

      const order: string[] = [];
      const closing = close(ref).then(() => order.push('closed'));
      // The job still needs 300 ms after shutdown began; close() must wait for it.
      setTimeout(() => {
        order.push('job finishing');
        job.finish.resolve('finished');
      }, 300);
      await closing;
      expect(order).toEqual(['job finishing', 'closed']);
      expect(job.done).toBe(true);
      expect(await running).toBe('finished');
      expect((await store.inspect('held-job')).holder).toBeNull();
    });

    it('aborts a job that outlives shutdownTimeout with ShutdownTimeoutError and leaves its lock to expire', async () => {
      const observer = redisClient();
      const keyPrefix = uniquePrefix('shutdown-timeout');
      const lockKey = `${keyPrefix}:{stubborn-job}:lock`;
      const ref = await boot({
        imports: [
          ScheduleModule.forRoot(),
          lockModule({ redis: testRedisUrl(), keyPrefix, shutdownTimeout: '300ms' }),
        ],
        providers: [StubbornJob],
      });
      const job = ref.get(StubbornJob);
      const running = callLocked(job, job.hold);
      const ctx = await job.started.promise;

      await close(ref);
      expect(ctx.signal.aborted).toBe(true);
      expect(job.abortReason).toBeInstanceOf(ShutdownTimeoutError);
      expect(await running).toBe('aborted');
      // Not released (the job may still be writing) and no longer renewed: it expires by itself.
      expect(await observer.exists(lockKey)).toBe(1);
      const pttl = await observer.pttl(lockKey);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(2_000);
      await waitFor(async () => (await observer.exists(lockKey)) === 0, {
        timeout: 5_000,
        message: 'the abandoned lock to expire',
      });
      await observer.del(`${keyPrefix}:{stubborn-job}:state`);
    });

    it('refuses new runs once close() has begun', async () => {
      const ref = await boot({
        imports: [ScheduleModule.forRoot(), lockModule({ shutdownTimeout: '10s' })],
        providers: [HeldJob],
      });
      const locks = ref.get(CronLockService);
      const job = ref.get(HeldJob);
      const running = callLocked(job, job.hold);
      await job.started.promise;

      const closing = close(ref);
      const refused = await waitFor(
        async () => {
          const result = await locks.run('late-run', {}, () => 'ran');
          return result.ran ? undefined : result;
        },
        { message: 'run() to refuse' },
      );
      expect(refused).toEqual({ ran: false, reason: 'shutting-down' });
      job.finish.resolve('finished');
      await closing;
      expect(await running).toBe('finished');
    });
  });

  describe('several apps in one process', () => {
    it('runs each occurrence once across three apps sharing one MemoryLockStore', async () => {
      const store = new MemoryLockStore();
      const apps = await Promise.all(
        ['a', 'b', 'c'].map((instanceId) =>
          boot({
            imports: [ScheduleModule.forRoot(), lockModule({ store, instanceId })],
            providers: [Runs, EverySecondJob],
          }),
        ),
      );
      const runsOf = (): Run[] => apps.flatMap((app) => app.get(Runs).of('tick'));
      await waitFor(() => new Set(runsOf().map((run) => run.scheduledAt)).size >= 4, {
        timeout: 10_000,
        message: 'four occurrences',
      });
      await Promise.all(apps.map((app) => close(app)));
      const runs = runsOf();
      const perOccurrence = new Map<number, number>();
      for (const run of runs) {
        perOccurrence.set(run.scheduledAt, (perOccurrence.get(run.scheduledAt) ?? 0) + 1);
      }
      expect([...perOccurrence.values()].every((count) => count === 1)).toBe(true);
      const fences = runs.map((run) => run.fencingToken).sort((a, b) => a - b);
      expect(new Set(fences).size).toBe(fences.length);
    });
  });
});
