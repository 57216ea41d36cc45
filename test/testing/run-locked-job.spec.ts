// The test helpers as a user's test would use them: CronLockTestingModule (memory store, no
// logs, nothing scheduled on the clock) and runLockedJob (one run through the job's lock, now).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { Interval, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLock,
  CronLockConfigError,
  CronLockError,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  ScheduledAtRefusedError,
  type LockContext,
} from 'nestjs-cron-lock';
import {
  CronLockTestingModule,
  overrideCronLockModule,
  runLockedJob,
  type CronLockTestingOptions,
  type RunLockedJobOptions,
} from 'nestjs-cron-lock/testing';
import { REPO_ROOT } from '../support/fork-ts.js';
import { SKIP_REASONS } from '../../lib/observer/events.js';

const HOUR = 3_600_000;
/** An occurrence of the hourly job, far from "now" so nothing else claims it. */
const NOON = Date.UTC(2025, 0, 1, 12);

/** A promise the test resolves by hand, to keep a job running while it looks at the lock. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

@Injectable()
class BillingJobs {
  readonly seen: LockContext[] = [];
  hold: Promise<void> = Promise.resolve();

  @LockedCron('0 * * * *', { name: 'invoices', ttl: '1m' })
  async sendInvoices(ctx: LockContext): Promise<string> {
    this.seen.push(ctx);
    await this.hold;
    return `sent for ${ctx.scheduledAt.toISOString()}`;
  }

  /** Default name: `BillingJobs.everySecond`. */
  @LockedCron('* * * * * *', '5s')
  async everySecond(ctx: LockContext): Promise<number> {
    this.seen.push(ctx);
    return ctx.fencingToken;
  }

  @LockedCron('0 0 * * *', { name: 'failing' })
  async failing(): Promise<void> {
    throw new Error('the payment provider said no');
  }

  /** No schedule: the lock only prevents overlapping calls. */
  @CronLock({ name: 'manual', ttl: '10s' })
  async manual(ctx: LockContext): Promise<number> {
    this.seen.push(ctx);
    return ctx.fencingToken;
  }

  @Interval(60_000)
  @CronLock({ name: 'poll' })
  async poll(ctx: LockContext): Promise<number> {
    return ctx.scheduledAt.getTime();
  }
}

/** A job whose overlapping occurrences queue behind the running one. */
@Injectable()
class ExportJobs {
  hold: Promise<void> = Promise.resolve();

  @LockedCron('0 * * * *', { name: 'exports', ttl: '1m', overlap: 'queue' })
  async export(): Promise<void> {
    await this.hold;
  }
}

describe('CronLockTestingModule + runLockedJob', () => {
  const modules: TestingModule[] = [];

  afterEach(async () => {
    await Promise.all(modules.splice(0).map((moduleRef) => moduleRef.close()));
  });

  async function boot(
    options: Parameters<typeof CronLockTestingModule.forRoot>[0] = {},
    extraImports: Parameters<typeof Test.createTestingModule>[0]['imports'] = [],
  ): Promise<TestingModule> {
    const moduleRef = await Test.createTestingModule({
      imports: [CronLockTestingModule.forRoot(options), ...extraImports],
      providers: [BillingJobs],
    }).compile();
    modules.push(moduleRef);
    await moduleRef.init();
    return moduleRef;
  }

  it('runs a decorated job through its lock and returns what the method returned', async () => {
    const moduleRef = await boot();
    const result = await runLockedJob<string>(moduleRef, 'invoices', { scheduledAt: NOON });

    expect(result).toMatchObject({ ran: true, value: 'sent for 2025-01-01T12:00:00.000Z' });
    const jobs = moduleRef.get(BillingJobs);
    expect(jobs.seen).toHaveLength(1);
    expect(result.ran && result.ctx).toBe(jobs.seen[0]);
    expect(jobs.seen[0]).toMatchObject({ name: 'invoices', scheduledAt: new Date(NOON) });
    expect(jobs.seen[0].fencingToken).toBeGreaterThan(0);
    // Released afterwards; the occurrence stays claimed.
    const state = await moduleRef.get(MemoryLockStore).inspect('invoices');
    expect(state).toMatchObject({ holder: null, ttlLeft: null, lastTick: NOON });
  });

  it('finds a job by Class.method as well as by lock name', async () => {
    const moduleRef = await boot();
    const byLabel = await runLockedJob(moduleRef, 'BillingJobs.sendInvoices', {
      scheduledAt: NOON,
    });
    expect(byLabel).toMatchObject({ ran: true, ctx: { name: 'invoices' } });
    const byDefaultName = await runLockedJob(moduleRef, 'BillingJobs.everySecond');
    expect(byDefaultName).toMatchObject({ ran: true, ctx: { name: 'BillingJobs.everySecond' } });
  });

  it('hands out increasing fencing tokens, one per occurrence', async () => {
    const moduleRef = await boot();
    const tokens: number[] = [];
    for (const scheduledAt of [NOON, NOON + HOUR, new Date(NOON + 2 * HOUR)]) {
      const result = await runLockedJob(moduleRef, 'invoices', { scheduledAt });
      expect(result.ran).toBe(true);
      tokens.push(result.ran ? result.ctx.fencingToken : Number.NaN);
    }
    expect(tokens[1]).toBeGreaterThan(tokens[0]);
    expect(tokens[2]).toBeGreaterThan(tokens[1]);
  });

  it('refuses a second run of the same occurrence with tick-done, as on a second instance', async () => {
    const moduleRef = await boot();
    expect((await runLockedJob(moduleRef, 'invoices', { scheduledAt: NOON })).ran).toBe(true);
    expect(await runLockedJob(moduleRef, 'invoices', { scheduledAt: NOON })).toEqual({
      ran: false,
      reason: 'tick-done',
    });
    expect(moduleRef.get(BillingJobs).seen).toHaveLength(1);
  });

  it('defaults to the occurrence a tick would run now', async () => {
    const moduleRef = await boot();
    const before = Math.floor(Date.now() / 1_000) * 1_000;
    const first = await runLockedJob<number>(moduleRef, 'BillingJobs.everySecond');
    const after = Math.floor(Date.now() / 1_000) * 1_000;
    expect(first.ran).toBe(true);
    const at = first.ran ? first.ctx.scheduledAt.getTime() : 0;
    expect(at === before || at === after).toBe(true);

    const hourly = await runLockedJob(moduleRef, 'invoices');
    const occurrence = hourly.ran ? hourly.ctx.scheduledAt : new Date(Number.NaN);
    // The last top of the hour (in the process's zone, as the cron reads it).
    expect(occurrence.getTime()).toBeLessThanOrEqual(Date.now());
    expect(occurrence.getTime()).toBeGreaterThan(Date.now() - HOUR);
    expect([
      occurrence.getMinutes(),
      occurrence.getSeconds(),
      occurrence.getMilliseconds(),
    ]).toEqual([0, 0, 0]);
  });

  it('is held while another run of the job holds the lock', async () => {
    const moduleRef = await boot();
    const jobs = moduleRef.get(BillingJobs);
    const { opened, open } = gate();
    jobs.hold = opened;
    const running = runLockedJob(moduleRef, 'invoices', { scheduledAt: NOON });
    await expect
      .poll(() => moduleRef.get(MemoryLockStore).inspect('invoices'))
      .toMatchObject({ holder: moduleRef.get(CronLockService).instanceId });

    expect(await runLockedJob(moduleRef, 'invoices', { scheduledAt: NOON + HOUR })).toEqual({
      ran: false,
      reason: 'held',
    });
    open();
    expect((await running).ran).toBe(true);
    // Free again: the next occurrence runs.
    jobs.hold = Promise.resolve();
    expect((await runLockedJob(moduleRef, 'invoices', { scheduledAt: NOON + HOUR })).ran).toBe(
      true,
    );
  });

  it('locks a @CronLock method without a schedule against overlap only', async () => {
    const moduleRef = await boot();
    const first = await runLockedJob<number>(moduleRef, 'manual');
    const second = await runLockedJob<number>(moduleRef, 'manual');
    expect(first).toMatchObject({ ran: true });
    expect(second).toMatchObject({ ran: true });
    expect(second.ran && first.ran && second.value > first.value).toBe(true);
  });

  it('derives the occurrence of an @Interval job from its interval', async () => {
    const moduleRef = await boot();
    const result = await runLockedJob<number>(moduleRef, 'poll');
    expect(result.ran && result.value % 60_000).toBe(0);
  });

  it('rejects with what the job throws, after releasing the lock', async () => {
    const moduleRef = await boot();
    await expect(runLockedJob(moduleRef, 'failing', { scheduledAt: NOON })).rejects.toThrow(
      'the payment provider said no',
    );
    expect(await moduleRef.get(MemoryLockStore).inspect('failing')).toMatchObject({
      holder: null,
      lastTick: NOON,
    });
  });

  it('names the known jobs when the job is unknown', async () => {
    const moduleRef = await boot();
    const attempt = runLockedJob(moduleRef, 'invoice');
    await expect(attempt).rejects.toBeInstanceOf(CronLockError);
    await expect(attempt).rejects.toThrow(
      'runLockedJob: no locked job "invoice" in this app. Known jobs: BillingJobs.everySecond, ' +
        'failing (BillingJobs.failing), invoices (BillingJobs.sendInvoices), ' +
        'manual (BillingJobs.manual), poll (BillingJobs.poll).',
    );
  });

  it('refuses a job that is not a string with a CronLockConfigError, without running anything', async () => {
    const moduleRef = await boot();
    const jobs = moduleRef.get(BillingJobs);
    // The method itself (a reference instead of its name), a BigInt, a name without a prototype.
    for (const job of [jobs.sendInvoices, 10n, Object.create(null), undefined]) {
      const attempt = runLockedJob(moduleRef, job as unknown as string);
      await expect(attempt).rejects.toBeInstanceOf(CronLockConfigError);
      await expect(attempt).rejects.toThrow(
        /^runLockedJob: .*lock name or Class\.method.*Fix: [^\n]*$/,
      );
    }
    expect(jobs.seen).toEqual([]);
  });

  it('says to initialise the module when no job is bound yet', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CronLockTestingModule.forRoot()],
      providers: [BillingJobs],
    }).compile();
    modules.push(moduleRef);
    await expect(runLockedJob(moduleRef, 'invoices')).rejects.toThrow(/moduleRef\.init\(\)/);
  });

  it('says which module is missing when the app has no CronLockModule', async () => {
    const moduleRef = await Test.createTestingModule({}).compile();
    modules.push(moduleRef);
    await expect(runLockedJob(moduleRef, 'invoices')).rejects.toThrow(
      /no CronLockModule.*CronLockTestingModule\.forRoot\(\)/,
    );
  });

  it('schedules nothing on the clock unless ScheduleModule is imported too', async () => {
    const alone = await boot();
    expect(() => alone.get(SchedulerRegistry, { strict: false })).toThrow();

    const scheduled = await boot({}, [ScheduleModule.forRoot()]);
    // The one registry is @nestjs/schedule's, holding the jobs it mounted, as with @Cron.
    const registries = scheduled.get(SchedulerRegistry, { strict: false, each: true });
    expect(registries).toHaveLength(1);
    expect(scheduled.get(SchedulerRegistry).getCronJobs().has('invoices')).toBe(true);
  });

  it('exposes the memory store and lets several apps share one, as instances of a fleet', async () => {
    const store = new MemoryLockStore();
    const a = await boot({ store, instanceId: 'instance-a' });
    const b = await boot({ store, instanceId: 'instance-b' });
    expect(a.get(MemoryLockStore)).toBe(store);

    expect(await runLockedJob(a, 'invoices', { scheduledAt: NOON })).toMatchObject({
      ran: true,
      ctx: { instanceId: 'instance-a' },
    });
    expect(await runLockedJob(b, 'invoices', { scheduledAt: NOON })).toEqual({
      ran: false,
      reason: 'tick-done',
    });
    expect(await runLockedJob(b, 'invoices', { scheduledAt: NOON + HOUR })).toMatchObject({
      ran: true,
      ctx: { instanceId: 'instance-b' },
    });
  });

  it('refuses an invalid scheduledAt', async () => {
    const moduleRef = await boot();
    await expect(
      runLockedJob(moduleRef, 'invoices', { scheduledAt: new Date('not a date') }),
    ).rejects.toThrow(/scheduledAt is not a valid date/);
  });

  it("rejects with the store's ScheduledAtRefusedError, without running the job, for a scheduledAt too far ahead", async () => {
    const moduleRef = await boot();
    const jobs = moduleRef.get(BillingJobs);
    // A day ahead of the clock: the store refuses a tick more than 15 minutes ahead. Logs are off
    // in tests, so an answer of store-error would not say why.
    const tomorrow = Math.floor(Date.now() / HOUR) * HOUR + 24 * HOUR;
    const refused = await runLockedJob(moduleRef, 'invoices', { scheduledAt: tomorrow }).then(
      (result) => result,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ScheduledAtRefusedError);
    expect(refused).toMatchObject({
      reason: 'ahead',
      message: expect.stringMatching(/^runLockedJob\("invoices"\): .*15 minutes ahead/),
    });
    expect(jobs.seen).toEqual([]);
    expect((await moduleRef.get(MemoryLockStore).inspect('invoices')).fencingToken).toBeNull();
    // An occurrence within the bound still runs.
    expect((await runLockedJob(moduleRef, 'invoices', { scheduledAt: NOON })).ran).toBe(true);
  });

  it('refuses, without running the job, a scheduledAt or an option that CronLockService.run() refuses', async () => {
    const moduleRef = await boot();
    const jobs = moduleRef.get(BillingJobs);
    // Each one used to run some occurrence (a truncated one, 1970's, the current one) or answer
    // store-error without a word (logs are off in tests).
    const invalid: Array<[string, unknown]> = [
      ['a fraction of a ms', NOON + 0.5],
      ['a negative number', -HOUR],
      ['null', null],
      ['a boolean', true],
    ];
    for (const [what, scheduledAt] of invalid) {
      await expect(
        runLockedJob(moduleRef, 'invoices', { scheduledAt } as RunLockedJobOptions),
        what,
      ).rejects.toThrow(/invoices.*scheduledAt is not a valid date/);
    }
    const misspelt = { scheduledat: NOON } as unknown as RunLockedJobOptions;
    await expect(runLockedJob(moduleRef, 'invoices', misspelt)).rejects.toThrow(
      /unknown option scheduledat \(did you mean scheduledAt\?\)/,
    );
    await expect(
      runLockedJob(moduleRef, 'invoices', null as unknown as RunLockedJobOptions),
    ).rejects.toBeInstanceOf(CronLockConfigError);
    expect(jobs.seen).toEqual([]);
    expect((await moduleRef.get(MemoryLockStore).inspect('invoices')).fencingToken).toBeNull();
  });

  it('refuses options that are not an object with a CronLockConfigError naming the fix, as CronLockModule.forRoot() does', () => {
    // An untyped caller, or `forRoot(config.cronLock)` with the key unset in some setup.
    for (const options of [null, 'memory', ['store']]) {
      const given = options as unknown as CronLockTestingOptions;
      for (const call of [
        () => CronLockTestingModule.forRoot(given),
        () => overrideCronLockModule(Test.createTestingModule({}), given),
      ]) {
        let thrown: unknown;
        try {
          call();
        } catch (error) {
          thrown = error;
        }
        expect(thrown, JSON.stringify(options)).toBeInstanceOf(CronLockConfigError);
        expect((thrown as Error).message).toMatch(/options must be an object, got .*Fix: /);
      }
    }
  });

  it('refuses redis and keyPrefix with an error naming its own call and a fix it can take', () => {
    // Untyped callers (or a config object shared with the app's CronLockModule) can pass them;
    // CronLockModule's own messages would name it and advise "pass redis instead of store".
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ redis: 'redis://127.0.0.1:6379' }, /option redis: .*Fix: .*store: new RedisLockStore/],
      [
        { keyPrefix: 'billing' },
        /option keyPrefix: .*Fix: .*new RedisLockStore\(redis, \{ keyPrefix \}\)/,
      ],
    ];
    for (const [options, fix] of cases) {
      const given = options as unknown as CronLockTestingOptions;
      for (const [name, call] of [
        ['CronLockTestingModule.forRoot', () => CronLockTestingModule.forRoot(given)],
        [
          'overrideCronLockModule',
          () => overrideCronLockModule(Test.createTestingModule({}), given),
        ],
      ] as const) {
        let thrown: unknown;
        try {
          call();
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `${name} ${JSON.stringify(options)}`).toBeInstanceOf(CronLockConfigError);
        const message = (thrown as Error).message;
        expect(message.startsWith(`${name}: `), message).toBe(true);
        expect(message).toMatch(fix);
        expect(message).not.toMatch(/(^|\s)CronLockModule:/);
      }
    }
  });

  it('answers paused, queued and merged too, and its docs list every reason it can answer', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CronLockTestingModule.forRoot()],
      providers: [BillingJobs, ExportJobs],
    }).compile();
    modules.push(moduleRef);
    await moduleRef.init();
    await moduleRef.get(CronLockService).pause('invoices');
    expect(await runLockedJob(moduleRef, 'invoices', { scheduledAt: NOON })).toEqual({
      ran: false,
      reason: 'paused',
    });

    const exports = moduleRef.get(ExportJobs);
    const { opened, open } = gate();
    exports.hold = opened;
    const running = runLockedJob(moduleRef, 'exports', { scheduledAt: NOON });
    await expect
      .poll(() => moduleRef.get(MemoryLockStore).inspect('exports'))
      .toMatchObject({ holder: moduleRef.get(CronLockService).instanceId });
    const next = { scheduledAt: NOON + HOUR };
    expect(await runLockedJob(moduleRef, 'exports', next)).toMatchObject({ reason: 'queued' });
    const after = { scheduledAt: NOON + 2 * HOUR };
    expect(await runLockedJob(moduleRef, 'exports', after)).toMatchObject({ reason: 'merged' });
    open();
    expect((await running).ran).toBe(true);

    // What a user reads: the guide's runLockedJob entry and the function's JSDoc.
    const guide = readFileSync(join(REPO_ROOT, 'docs/testing.md'), 'utf8');
    const entry = guide.slice(guide.indexOf('- **`runLockedJob('), guide.indexOf('- **Several'));
    const source = readFileSync(join(REPO_ROOT, 'lib/testing/run-locked-job.ts'), 'utf8');
    const jsdoc = source.slice(source.indexOf(' * @returns'), source.indexOf(' * @throws'));
    for (const reason of SKIP_REASONS) {
      expect(entry, `docs/testing.md: ${reason}`).toContain(`\`${reason}\``);
      expect(jsdoc, `JSDoc: ${reason}`).toContain(`\`${reason}\``);
    }
  });
});
