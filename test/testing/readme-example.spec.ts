// The example of the README's "Testing your jobs", as written there (vi.fn() for jest.fn()), so
// that a user who copies it gets a passing test.
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LockedCron, MemoryLockStore, type LockContext } from 'nestjs-cron-lock';
import { CronLockTestingModule, runLockedJob } from 'nestjs-cron-lock/testing';

abstract class Mailer {
  abstract send(subject: string, options: { fence: number }): Promise<string>;
}

@Injectable()
class ReportsService {
  constructor(private readonly mailer: Mailer) {}

  @LockedCron('0 * * * *', '5m')
  async hourly(ctx: LockContext): Promise<string> {
    return this.mailer.send('hourly report', { fence: ctx.fencingToken });
  }
}

describe('ReportsService', () => {
  let moduleRef: TestingModule;
  const mailer = { send: vi.fn().mockResolvedValue('sent') };

  beforeEach(async () => {
    mailer.send.mockClear();
    moduleRef = await Test.createTestingModule({
      imports: [CronLockTestingModule.forRoot()],
      providers: [ReportsService, { provide: Mailer, useValue: mailer }],
    }).compile();
    await moduleRef.init(); // binds the locked methods to the lock
  });

  afterEach(() => moduleRef.close());

  it('sends the hourly report once per occurrence', async () => {
    const scheduledAt = new Date('2025-01-01T10:00:00Z');

    const first = await runLockedJob(moduleRef, 'ReportsService.hourly', { scheduledAt });
    expect(first).toMatchObject({
      ran: true,
      value: 'sent',
      ctx: { scheduledAt, fencingToken: 1 },
    });
    expect(mailer.send).toHaveBeenCalledWith('hourly report', { fence: 1 });

    // The same occurrence again, as a second instance would try it:
    const again = await runLockedJob(moduleRef, 'ReportsService.hourly', { scheduledAt });
    expect(again).toEqual({ ran: false, reason: 'tick-done' });
    expect(mailer.send).toHaveBeenCalledTimes(1);
  });

  it('releases the lock after a run', async () => {
    await runLockedJob(moduleRef, 'ReportsService.hourly');
    const state = await moduleRef.get(MemoryLockStore).inspect('ReportsService.hourly');
    expect(state).toMatchObject({ holder: null, fencingToken: 1 });
  });
});
