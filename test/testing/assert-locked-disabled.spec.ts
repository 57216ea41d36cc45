// assertLocked() when no CronLockModule of the process has `asyncContext: true` (the default):
// runs are not tracked, so it must say so and how to fix it, rather than claim the code runs
// outside a lock. Its own file, so that no other module of this process turned tracking on.
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { assertLocked, currentLockContext, LockedCron, NotLockedError } from 'nestjs-cron-lock';
import { CronLockTestingModule, runLockedJob } from 'nestjs-cron-lock/testing';

@Injectable()
class Jobs {
  @LockedCron('0 * * * * *', { ttl: '5s', name: 'guarded' })
  guarded(): { seen: ReturnType<typeof currentLockContext>; error: unknown } {
    const seen = currentLockContext();
    try {
      assertLocked();
      return { seen, error: null };
    } catch (error) {
      return { seen, error };
    }
  }
}

describe('assertLocked() with asyncContext off', () => {
  let moduleRef: TestingModule | undefined;

  afterEach(async () => {
    await moduleRef?.close();
  });

  it('throws NotLockedError(disabled) inside a locked run, naming the option to set', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [CronLockTestingModule.forRoot()],
      providers: [Jobs],
    }).compile();
    await moduleRef.init();

    const result = await runLockedJob<ReturnType<Jobs['guarded']>>(moduleRef, 'guarded');
    expect(result.ran).toBe(true);
    if (!result.ran) return;
    expect(result.value.seen).toBeUndefined();
    expect(result.value.error).toBeInstanceOf(NotLockedError);
    expect(result.value.error).toMatchObject({ reason: 'disabled', lockName: null });
    expect((result.value.error as Error).message).toContain(
      'Fix: set asyncContext: true in the CronLockModule options',
    );
  });
});
