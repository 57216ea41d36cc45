// `nestjs-cron-lock trigger --wait` for a job under `overlap: 'replace'`: a later occurrence finds
// the triggered run holding the lock and asks it to stop, so the run's signal aborts with
// ReplacedError and the wait reports `aborted`. The words printed must say so, not blame a
// shutdown that never happened.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, LockedCron, ReplacedError, type LockContext } from 'nestjs-cron-lock';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { untilAborted } from '../support/run-log.js';
import { runCli, type CliRun } from './cli-process.js';

const JOB = 'cli-replaced-sync';
/** How each triggered run's signal ended. */
const triggered: Array<{ abortedBy?: string }> = [];

@Injectable()
class ReplacedSync {
  // Every second; a 3 s ttl renewed every second tells the holder within a second of the request.
  @LockedCron('* * * * * *', { name: JOB, ttl: '3s', overlap: 'replace' })
  async sync(ctx: LockContext): Promise<void> {
    if (ctx.trigger !== 'manual') {
      // The scheduled runs end at once: only the triggered one holds the lock for long.
      return;
    }
    const run: (typeof triggered)[number] = {};
    triggered.push(run);
    // Works until told to stop; the bound only ends a test that went wrong.
    await untilAborted(ctx, 60_000);
    if (ctx.signal.aborted) {
      const reason: unknown = ctx.signal.reason;
      run.abortedBy = reason instanceof ReplacedError ? 'ReplacedError' : String(reason);
    }
  }
}

describe('nestjs-cron-lock trigger --wait, with the run replaced by a later occurrence', () => {
  const modules: TestingModule[] = [];

  afterEach(async () => {
    await Promise.all(modules.splice(0).map((module) => module.close()));
    triggered.length = 0;
  });

  it('says the run was replaced or its instance shut down, not only a shutdown', async () => {
    const prefix = uniquePrefix('cli-trigger-replaced');
    const module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({
          redis: testRedisUrl(),
          keyPrefix: prefix,
          instanceId: 'w-1',
          logger: false,
        }),
      ],
      providers: [ReplacedSync],
    }).compile();
    modules.push(module);
    await module.init();

    // A trigger that lands while a scheduled run holds the lock for its few ms is answered
    // `held`: asked again, as an operator would.
    let run: CliRun | undefined;
    for (let attempt = 0; attempt < 5 && triggered.length === 0; attempt++) {
      run = await runCli([
        'trigger',
        JOB,
        '--wait',
        '--yes',
        '--redis',
        testRedisUrl(),
        '--prefix',
        prefix,
      ]);
    }
    await waitFor(() => triggered[0]?.abortedBy, { timeout: 10_000, message: 'the run told' });
    expect(triggered[0].abortedBy).toBe('ReplacedError');

    expect(run!.code).toBe(1);
    expect(run!.stdout).toContain('(outcome aborted)');
    expect(run!.stdout).toContain('replaced by a later occurrence');
  });
});
