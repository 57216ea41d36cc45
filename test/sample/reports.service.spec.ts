// The sample's jobs, tested the way the README's "Testing your jobs" suggests: no Redis, no
// clock to wait for, one run at a time through the job's lock.
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockService, LockLostError, MemoryLockStore } from 'nestjs-cron-lock';
import { CronLockTestingModule, runLockedJob } from 'nestjs-cron-lock/testing';
import { ReportsService } from '../../sample/reports.service.js';

/** An occurrence of both jobs (every second, every 5 seconds). */
const AT = Date.UTC(2025, 0, 1, 12, 0, 5);

describe('sample ReportsService', () => {
  const modules: TestingModule[] = [];

  afterEach(async () => {
    await Promise.all(modules.splice(0).map((moduleRef) => moduleRef.close()));
  });

  async function instance(store: MemoryLockStore, instanceId: string): Promise<TestingModule> {
    const moduleRef = await Test.createTestingModule({
      imports: [CronLockTestingModule.forRoot({ store, instanceId, asyncContext: true })],
      providers: [ReportsService],
    }).compile();
    modules.push(moduleRef);
    await moduleRef.init();
    return moduleRef;
  }

  it('quick: saves its totals under the lock, with the run’s fencing token', async () => {
    const app = await instance(new MemoryLockStore(), 'instance-a');
    const result = await runLockedJob<number>(app, 'quick', { scheduledAt: AT });
    expect(result.ran).toBe(true);
    if (!result.ran) return;
    // saveTotals() got the token through assertLocked(), not as an argument.
    expect(result.value).toBe(result.ctx.fencingToken);
    expect(result.ctx.scheduledAt).toEqual(new Date(AT));
  });

  it('quick: each occurrence runs on one of the instances sharing a store', async () => {
    const store = new MemoryLockStore();
    const [a, b, c] = await Promise.all(
      ['instance-a', 'instance-b', 'instance-c'].map((id) => instance(store, id)),
    );
    const results = await Promise.all(
      [a, b, c].map((app) => runLockedJob<number>(app, 'quick', { scheduledAt: AT })),
    );
    expect(results.filter((result) => result.ran)).toHaveLength(1);
    // The others find the occurrence already claimed, as instances of a fleet do.
    expect(results.filter((result) => !result.ran)).toEqual([
      { ran: false, reason: 'tick-done' },
      { ran: false, reason: 'tick-done' },
    ]);
    // The next occurrence gets a higher fencing token, wherever it runs.
    const first = results.find((result) => result.ran);
    const next = await runLockedJob<number>(c, 'quick', { scheduledAt: AT + 1_000 });
    expect(next.ran && first?.ran && next.value > first.value).toBe(true);
  });

  it('long: keeps its 1.5 s lock renewed while it works for about 3 s', async () => {
    const app = await instance(new MemoryLockStore(), 'instance-a');
    const renewals: number[] = [];
    app.get(CronLockService).on('renewed', (event) => renewals.push(event.ttl));
    const result = await runLockedJob(app, 'long', { scheduledAt: AT });
    expect(result.ran).toBe(true);
    // Every ttl/3 = 0.5 s over ~3 s: at least a few, each back to the full 1.5 s.
    expect(renewals.length).toBeGreaterThanOrEqual(3);
    expect(new Set(renewals)).toEqual(new Set([1_500]));
  });

  it('long: stops at its next step when the lock is lost', async () => {
    let storeClock = 0;
    const app = await instance(new MemoryLockStore(() => storeClock), 'instance-a');
    const run = runLockedJob(app, 'long', { scheduledAt: AT });
    await expect
      .poll(() => app.get(CronLockService).inspect('long'))
      .toMatchObject({ runningHere: true });
    // Time passes for the store only (as for a frozen holder): the lock expires under the job.
    storeClock += 10_000;
    const error = await run.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toMatchObject({ name: 'AbortError' });
    expect((error as Error).cause).toBeInstanceOf(LockLostError);
  });
});
