// assertLocked() / currentLockContext(): the run the calling code belongs to, found through
// AsyncLocalStorage — across awaits, timers and nested calls, and never outside a locked run.
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  assertLocked,
  CronLockModule,
  CronLockService,
  currentLockContext,
  LockedCron,
  LockLostError,
  MemoryLockStore,
  NotLockedError,
  type AcquireResult,
  type LockContext,
  type LockStore,
} from 'nestjs-cron-lock';
import { CronLockTestingModule, runLockedJob } from 'nestjs-cron-lock/testing';
import { waitFor } from '../support/redis.js';

const NOON = Date.UTC(2025, 0, 1, 12);

/** Code a job calls, a few calls deep, that must only run under the job's lock. */
async function writeResult(): Promise<number> {
  await sleep(5);
  return deeper();
}

async function deeper(): Promise<number> {
  await Promise.resolve();
  return assertLocked().fencingToken;
}

@Injectable()
class Jobs {
  /** Work the job started but did not await: it outlives the run. */
  leftBehind?: Promise<unknown>;

  @LockedCron('0 * * * *', { name: 'write' })
  async write(
    ctx: LockContext,
  ): Promise<{ sync: LockContext; afterAwait: LockContext; nested: number[] }> {
    const sync = assertLocked();
    await sleep(10);
    const afterAwait = assertLocked();
    const nested = await Promise.all([writeResult(), writeResult(), sleep(1).then(deeper)]);
    expect(ctx).toBe(sync);
    return { sync, afterAwait, nested };
  }

  @LockedCron('0 * * * *', { name: 'leaky' })
  async leaky(): Promise<void> {
    this.leftBehind = sleep(50).then(() => {
      try {
        return assertLocked();
      } catch (error) {
        return { error, current: currentLockContext() };
      }
    });
  }
}

describe('assertLocked() and currentLockContext()', () => {
  const modules: TestingModule[] = [];

  afterEach(async () => {
    await Promise.all(modules.splice(0).map((moduleRef) => moduleRef.close()));
  });

  async function boot(
    imports = [CronLockTestingModule.forRoot({ asyncContext: true })],
    providers = [Jobs],
  ): Promise<TestingModule> {
    const moduleRef = await Test.createTestingModule({ imports, providers }).compile();
    modules.push(moduleRef);
    await moduleRef.init();
    return moduleRef;
  }

  it('returns the run’s LockContext in the job, across awaits and in nested async calls', async () => {
    const moduleRef = await boot();
    const result = await runLockedJob<Awaited<ReturnType<Jobs['write']>>>(moduleRef, 'write', {
      scheduledAt: NOON,
    });
    expect(result.ran).toBe(true);
    if (!result.ran) return;
    const { sync, afterAwait, nested } = result.value;
    expect(sync).toBe(result.ctx);
    expect(afterAwait).toBe(result.ctx);
    expect(nested).toEqual([
      result.ctx.fencingToken,
      result.ctx.fencingToken,
      result.ctx.fencingToken,
    ]);
  });

  it('throws NotLockedError outside a locked run, saying how to fix it', async () => {
    await boot();
    expect(currentLockContext()).toBeUndefined();
    let thrown: unknown;
    try {
      assertLocked();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NotLockedError);
    expect(thrown).toMatchObject({ name: 'NotLockedError', reason: 'outside', lockName: null });
    expect((thrown as Error).message).toBe(
      'assertLocked(): this code is not running under a cron lock. Fix: call it only from a ' +
        '@LockedCron/@CronLock method or a CronLockService.run() callback, or from code they ' +
        'await; in a test, run the job with runLockedJob() from nestjs-cron-lock/testing.',
    );
  });

  it('throws outside even after a run, and in code that was never part of one', async () => {
    const moduleRef = await boot();
    await runLockedJob(moduleRef, 'write', { scheduledAt: NOON });
    await expect(writeResult()).rejects.toBeInstanceOf(NotLockedError);
  });

  it('keeps concurrent runs apart and restores the outer run after a nested one', async () => {
    const moduleRef = await boot();
    const locks = moduleRef.get(CronLockService);
    const seen: Array<[string, string]> = [];
    const job = (name: string) => async (ctx: LockContext) => {
      await sleep(5);
      seen.push([name, assertLocked().name]);
      expect(assertLocked()).toBe(ctx);
      if (name === 'outer') {
        const inner = await locks.run('inner', {}, async () => {
          await sleep(5);
          seen.push(['inner', assertLocked().name]);
          return assertLocked();
        });
        expect(inner.ran && inner.value).not.toBe(ctx);
        seen.push(['outer-after-inner', assertLocked().name]);
      }
    };
    await Promise.all([locks.run('outer', {}, job('outer')), locks.run('other', {}, job('other'))]);
    expect(seen).toEqual(
      expect.arrayContaining([
        ['outer', 'outer'],
        ['other', 'other'],
        ['inner', 'inner'],
        ['outer-after-inner', 'outer'],
      ]),
    );
    expect(seen).toHaveLength(4);
  });

  it('throws NotLockedError (ended) in work a run left behind, after the run ended', async () => {
    const moduleRef = await boot();
    const jobs = moduleRef.get(Jobs);
    expect((await runLockedJob(moduleRef, 'leaky', { scheduledAt: NOON })).ran).toBe(true);
    const late = (await jobs.leftBehind) as { error: unknown; current: unknown };
    expect(late.error).toBeInstanceOf(NotLockedError);
    expect(late.error).toMatchObject({ reason: 'ended', lockName: 'leaky' });
    expect((late.error as Error).message).toMatch(/has already ended.*Fix: await that work/);
    expect(late.current).toBeUndefined();
  });

  it('throws the LockLostError once the run has lost its lock', async () => {
    let storeNow = 0;
    const store = new MemoryLockStore(() => storeNow);
    const moduleRef = await boot([CronLockTestingModule.forRoot({ store, asyncContext: true })]);
    const locks = moduleRef.get(CronLockService);
    const result = await locks.run('fragile', { ttl: 300 }, async (ctx) => {
      expect(assertLocked()).toBe(ctx);
      // The store's clock jumps past the ttl: the next renewal (every ttl/3) finds it expired.
      storeNow += 60_000;
      await waitFor(() => ctx.signal.aborted, { timeout: 10_000, message: 'lock lost' });
      try {
        assertLocked();
        return 'not thrown';
      } catch (error) {
        return error;
      }
    });
    expect(result.ran && result.value).toBeInstanceOf(LockLostError);
  });

  it("refuses a run that onStoreError: 'run' started without its lock", async () => {
    const failing: LockStore = {
      acquire: (): Promise<AcquireResult> => Promise.reject(new Error('store down')),
      renew: () => Promise.reject(new Error('store down')),
      release: () => Promise.reject(new Error('store down')),
      inspect: () => Promise.reject(new Error('store down')),
      ping: () => Promise.reject(new Error('store down')),
      close: () => Promise.resolve(),
    };
    // No @LockedCron here: CronLockModule alone, without a scheduler, for CronLockService.run().
    const moduleRef = await boot(
      [
        CronLockModule.forRoot({
          store: failing,
          onStoreError: 'run',
          logger: false,
          asyncContext: true,
        }),
      ],
      [],
    );
    const result = await moduleRef.get(CronLockService).run('unlocked', {}, () => {
      const current = currentLockContext();
      try {
        assertLocked();
        return { current, error: undefined };
      } catch (error) {
        return { current, error };
      }
    });
    expect(result.ran).toBe(true);
    if (!result.ran) return;
    expect(result.value.current).toBe(result.ctx);
    expect(result.value.current?.fencingToken).toBe(0);
    expect(result.value.error).toBeInstanceOf(NotLockedError);
    expect(result.value.error).toMatchObject({ reason: 'unlocked', lockName: 'unlocked' });
    expect((result.value.error as Error).message).toMatch(/running without its lock/);
  });
});
