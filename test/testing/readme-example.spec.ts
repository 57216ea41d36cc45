// The README's testing example, as written there: the repository's Vitest does not enable
// globals, so the runner's functions are imported here; the rest is the README's text.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { LockedCron, MemoryLockStore, type LockContext } from 'nestjs-cron-lock';
import { CronLockTestingModule, runLockedJob } from 'nestjs-cron-lock/testing';

@Injectable()
class HourlyReport {
  readonly sent: number[] = [];

  @LockedCron('0 * * * *', '5m')
  async send(ctx: LockContext): Promise<string> {
    this.sent.push(ctx.fencingToken);
    return 'sent';
  }
}

describe('HourlyReport', () => {
  let moduleRef: TestingModule;

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [CronLockTestingModule.forRoot()],
      providers: [HourlyReport],
    }).compile();
    await moduleRef.init(); // binds the locked methods to the lock
  });

  afterEach(() => moduleRef.close());

  it('runs once per occurrence', async () => {
    const scheduledAt = new Date('2025-01-01T10:00:00Z');

    const first = await runLockedJob(moduleRef, 'HourlyReport.send', { scheduledAt });
    expect(first).toMatchObject({
      ran: true,
      value: 'sent',
      ctx: { scheduledAt, fencingToken: 1 },
    });

    // The same occurrence again, as a second instance would try it:
    const again = await runLockedJob(moduleRef, 'HourlyReport.send', { scheduledAt });
    expect(again).toEqual({ ran: false, reason: 'tick-done' });
    expect(moduleRef.get(HourlyReport).sent).toEqual([1]);
  });

  it('releases the lock after a run', async () => {
    await runLockedJob(moduleRef, 'HourlyReport.send');
    const state = await moduleRef.get(MemoryLockStore).inspect('HourlyReport.send');
    expect(state).toMatchObject({ holder: null, fencingToken: 1 });
  });
});
