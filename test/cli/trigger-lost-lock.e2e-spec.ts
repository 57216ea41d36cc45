// `nestjs-cron-lock trigger --wait` while an operator frees the run's lock with `release`: the
// instance finds its lock gone at its next renewal and aborts the run's signal, and a job that
// honours the signal returns early. The wait must report that the run lost its lock, as the
// job's history does, not that it completed.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  LockLostError,
  type LockContext,
} from 'nestjs-cron-lock';
import type { TriggerJson } from '../../lib/cli/trigger.command.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { untilAborted } from '../support/run-log.js';
import { runCli } from './cli-process.js';

const JOB = 'cli-long-sync';
/** The runs that started, and how each one's signal ended. */
const runs: Array<{ instanceId: string; fencingToken: number; abortedBy?: string }> = [];

@Injectable()
class LongSync {
  // A 3 s ttl is renewed every second: the loss is found within a second of the release.
  @LockedCron('0 0 1 1 *', { name: JOB, ttl: '3s' })
  async sync(ctx: LockContext): Promise<void> {
    const run: (typeof runs)[number] = {
      instanceId: ctx.instanceId,
      fencingToken: ctx.fencingToken,
    };
    runs.push(run);
    // Works until told to stop, as a well-behaved long job does; the bound only ends a test
    // that went wrong.
    await untilAborted(ctx, 60_000);
    if (ctx.signal.aborted) {
      const reason: unknown = ctx.signal.reason;
      run.abortedBy = reason instanceof LockLostError ? 'LockLostError' : String(reason);
    }
  }
}

describe('nestjs-cron-lock trigger --wait, with the lock released meanwhile', () => {
  const modules: TestingModule[] = [];

  afterEach(async () => {
    await Promise.all(modules.splice(0).map((module) => module.close()));
    runs.length = 0;
  });

  async function startFleet(prefix: string): Promise<CronLockService> {
    for (const instanceId of ['w-1', 'w-2']) {
      const module = await Test.createTestingModule({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({
            redis: testRedisUrl(),
            keyPrefix: prefix,
            instanceId,
            logger: false,
          }),
        ],
        providers: [LongSync],
      }).compile();
      modules.push(module);
      await module.init();
    }
    return modules[0].get(CronLockService);
  }

  function cli(prefix: string, ...args: string[]): ReturnType<typeof runCli> {
    return runCli([...args, '--redis', testRedisUrl(), '--prefix', prefix]);
  }

  /** Waits for the run to start, frees its lock with the command, and for the run's abort. */
  async function releaseTheRun(prefix: string): Promise<void> {
    await waitFor(() => runs.length === 1, { timeout: 45_000, message: 'the triggered run' });
    const released = await cli(prefix, 'release', JOB, '--yes');
    expect(released.stderr).toBe('');
    expect(released.code).toBe(0);
    await waitFor(() => runs[0].abortedBy, { timeout: 10_000, message: 'the run told' });
    expect(runs[0].abortedBy).toBe('LockLostError');
  }

  it('exits 1 with outcome "lost" in the JSON, as the history records it', async () => {
    const prefix = uniquePrefix('cli-trigger-lost');
    await startFleet(prefix);

    const triggered = cli(prefix, 'trigger', JOB, '--wait', '--json', '--yes');
    await releaseTheRun(prefix);
    const run = await triggered;

    expect(run.stderr).toBe('');
    const json = JSON.parse(run.stdout) as TriggerJson;
    expect(json).toMatchObject({
      job: JOB,
      ran: true,
      instanceId: runs[0].instanceId,
      fencingToken: runs[0].fencingToken,
      outcome: 'lost',
    });
    expect(run.code).toBe(1);
    const history = await cli(prefix, 'history', JOB, '--json');
    expect(JSON.parse(history.stdout)).toMatchObject({
      entries: [{ kind: 'run', trigger: 'manual', outcome: 'lost' }],
    });
  });

  it('says in words that the run lost its lock, and CronLockService.trigger() resolves "lost"', async () => {
    const prefix = uniquePrefix('cli-trigger-lost');
    const locks = await startFleet(prefix);

    const triggered = cli(prefix, 'trigger', JOB, '--wait', '--yes');
    await releaseTheRun(prefix);
    const run = await triggered;

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      new RegExp(`^"${JOB}" started on w-[12] \\(fence \\d+\\) at [^;]+; it lost its lock after `),
    );
    expect(run.stdout).not.toContain('completed');

    // The same run, asked for in code.
    runs.length = 0;
    const waiting = locks.trigger(JOB, { wait: true });
    await releaseTheRun(prefix);
    expect(await waiting).toMatchObject({ ran: true, outcome: 'lost' });
  });
});
