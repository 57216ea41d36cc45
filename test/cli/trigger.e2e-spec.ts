// `nestjs-cron-lock trigger <job>` as a separate process against the test Redis, with the
// instances (Nest apps) in this process: it runs the job once on one of them, or says nobody has it.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, LockedCron, type LockContext } from 'nestjs-cron-lock';
import type { TriggerJson } from '../../lib/cli/trigger.command.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';

const runs: Array<{ instanceId: string; trigger: string; fencingToken: number }> = [];

@Injectable()
class YearlyReport {
  @LockedCron('0 0 1 1 *', { name: 'cli-yearly', ttl: '10s' })
  async report(ctx: LockContext): Promise<void> {
    runs.push({ instanceId: ctx.instanceId, trigger: ctx.trigger, fencingToken: ctx.fencingToken });
  }
}

describe('nestjs-cron-lock trigger', () => {
  const modules: TestingModule[] = [];

  afterEach(async () => {
    await Promise.all(modules.splice(0).map((module) => module.close()));
    runs.length = 0;
  });

  async function startFleet(prefix: string): Promise<void> {
    for (const instanceId of ['w-1', 'w-2', 'w-3']) {
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
        providers: [YearlyReport],
      }).compile();
      modules.push(module);
      await module.init();
    }
  }

  it('runs the job once on one of three instances and prints where, as JSON', async () => {
    const prefix = uniquePrefix('cli-trigger');
    await startFleet(prefix);

    const run = await runCli([
      'trigger',
      'cli-yearly',
      '--redis',
      testRedisUrl(),
      '--prefix',
      prefix,
      '--yes',
      '--wait',
      '--json',
    ]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout) as TriggerJson;
    expect(json).toMatchObject({
      job: 'cli-yearly',
      ran: true,
      outcome: 'completed',
      reason: null,
    });
    expect(runs).toEqual([
      { instanceId: json.instanceId, trigger: 'manual', fencingToken: json.fencingToken },
    ]);
  });

  it('says in words where it started', async () => {
    const prefix = uniquePrefix('cli-trigger');
    await startFleet(prefix);

    const run = await runCli([
      'trigger',
      'cli-yearly',
      '--redis',
      testRedisUrl(),
      '--prefix',
      prefix,
      '-y',
    ]);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^"cli-yearly" started on w-[123] \(fence \d+\) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.\n$/,
    );
  });

  it('exits 1 saying no live instance has the job when none runs', async () => {
    const run = await runCli([
      'trigger',
      'cli-yearly',
      '--redis',
      testRedisUrl(),
      '--prefix',
      uniquePrefix('cli-trigger-none'),
      '--yes',
    ]);

    expect(run.code).toBe(1);
    expect(run.stdout).toContain('"cli-yearly" did not run: no live instance has this job');
    expect(run.stdout).toContain('running on this key prefix?');
  });

  it('refuses without --yes when stdin is not a terminal, and runs nothing', async () => {
    const prefix = uniquePrefix('cli-trigger');
    await startFleet(prefix);

    const run = await runCli([
      'trigger',
      'cli-yearly',
      '--redis',
      testRedisUrl(),
      '--prefix',
      prefix,
    ]);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'Refusing to trigger "cli-yearly" without confirmation: stdin is not a terminal. Re-run with --yes.',
    );
    expect(runs).toEqual([]);
  });
});
