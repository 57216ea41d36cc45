// `nestjs-cron-lock trigger --json | jq` typed in a terminal: stdin a TTY, stdout a pipe. The
// question goes where the operator sees it, and stdout carries the command's output and nothing
// else. With stderr sent to a file instead, the question stays on the terminal.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, LockedCron } from 'nestjs-cron-lock';
import type { TriggerJson } from '../../lib/cli/trigger.command.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { HAS_SCRIPT, runCli } from './cli-process.js';

@Injectable()
class QuarterlyReport {
  runs = 0;

  @LockedCron('0 0 1 */3 *', { name: 'cli-quarterly', ttl: '10s' })
  async report(): Promise<void> {
    this.runs += 1;
  }
}

describe('nestjs-cron-lock trigger --json piped from a terminal', () => {
  const cleanups: Array<() => Promise<unknown>> = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** An app with the job on its own key prefix, and a temporary folder for the command's files. */
  async function startApp(): Promise<{ prefix: string; moduleRef: TestingModule; dir: string }> {
    const prefix = uniquePrefix('cli-prompt');
    const moduleRef = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ redis: testRedisUrl(), keyPrefix: prefix, logger: false }),
      ],
      providers: [QuarterlyReport],
    }).compile();
    cleanups.push(() => moduleRef.close());
    await moduleRef.init();
    const dir = await mkdtemp(join(tmpdir(), 'cron-lock-cli-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return { prefix, moduleRef, dir };
  }

  it(
    'asks on the terminal, not into the piped --json output, which stays one JSON document',
    { skip: !HAS_SCRIPT, timeout: 120_000 },
    async () => {
      const { prefix, moduleRef, dir } = await startApp();
      const output = join(dir, 'trigger.json');

      const question = 'now on one live instance? [y/N]';
      const run = await runCli(
        ['trigger', 'cli-quarterly', '--redis', testRedisUrl(), '--prefix', prefix, '--json'],
        { tty: { waitFor: question, answer: 'y\n' }, stdoutFile: output },
      );

      // What the terminal showed (script merges the command's stderr into it).
      expect(run.stdout, 'the question, on the terminal').toContain(question);
      expect(run.code, run.stdout).toBe(0);
      const printed = await readFile(output, 'utf8');
      expect(() => JSON.parse(printed) as unknown, printed).not.toThrow();
      expect(JSON.parse(printed) as TriggerJson).toMatchObject({ job: 'cli-quarterly', ran: true });
      expect(moduleRef.get(QuarterlyReport).runs).toBe(1);
    },
  );

  it(
    'asks on the terminal when stderr goes to a file, not into that file',
    { skip: !HAS_SCRIPT, timeout: 120_000 },
    async () => {
      const { prefix, moduleRef, dir } = await startApp();
      const errors = join(dir, 'errors.log');

      // `trigger <job> 2>errors.log` typed in a terminal: stdin and stdout are the terminal.
      const question = 'now on one live instance? [y/N]';
      const run = await runCli(
        ['trigger', 'cli-quarterly', '--redis', testRedisUrl(), '--prefix', prefix],
        { tty: { waitFor: question, answer: 'y\n' }, stderrFile: errors },
      );

      expect(run.stdout, 'the question, on the terminal').toContain(question);
      expect(run.code, run.stdout).toBe(0);
      expect(await readFile(errors, 'utf8'), 'the log').not.toContain(question);
      expect(moduleRef.get(QuarterlyReport).runs).toBe(1);
    },
  );
});
