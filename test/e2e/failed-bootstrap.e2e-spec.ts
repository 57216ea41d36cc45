// A bootstrap that fails (here on a @LockedCron option, which the docs promise rejects app.init())
// must leave nothing open behind it: `NestFactory.createApplicationContext()` initialises the
// context itself and never hands it back on failure, so no `app.close()` can release what the
// module opened. The app runs as a child process, which must end on its own once it failed.
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { forkTs } from '../support/fork-ts.js';
import { waitForExit } from '../support/processes.js';
import { findFreePort } from '../support/redis-server.js';
import { testRedisUrl, waitFor } from '../support/redis.js';

/** Forking a TypeScript app on a loaded 2-core machine takes a few seconds. */
const START_TIMEOUT_MS = 30_000;

/** Once it printed its failure, the process has nothing left to do: a few seconds is ample. */
const EXIT_TIMEOUT_MS = 5_000;

describe('a standalone app whose bootstrap fails (child process)', () => {
  let child: ChildProcess | undefined;

  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    }
    child = undefined;
  });

  async function failedBoot(redisUrl: string): Promise<{ message: string; exited: boolean }> {
    child = forkTs('test/fixtures/failed-bootstrap-app.ts', [], {
      env: { ...process.env, FAILED_BOOT_REDIS_URL: redisUrl },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const line = await waitFor(
      () => stdout.split('\n').find((printed) => printed.startsWith('{"type":"failed"')),
      { timeout: START_TIMEOUT_MS, message: 'the bootstrap to fail' },
    );
    const { message } = JSON.parse(line) as { message: string };
    return { message, exited: await waitForExit(child, EXIT_TIMEOUT_MS) };
  }

  it('ends on its own, with exit code 1, when Redis is reachable', async () => {
    const { message, exited } = await failedBoot(testRedisUrl());

    expect(message).toContain('Reports.monthly');
    expect(exited).toBe(true);
    expect(child!.exitCode).toBe(1);
  });

  it('ends on its own, with exit code 1, when Redis is unreachable', async () => {
    // A free port: nothing listens there, so a connection would retry forever.
    const { message, exited } = await failedBoot(`redis://127.0.0.1:${await findFreePort()}`);

    expect(message).toContain('Reports.monthly');
    expect(exited).toBe(true);
    expect(child!.exitCode).toBe(1);
  });
});

// A worker that retries a failed bootstrap in the same process (another module's onModuleInit
// failing after CronLockModule's): the failed attempts cannot be closed, so the module must not
// keep them alive in its process-wide state.
describe('standalone bootstraps that fail after CronLockModule initialised (child process)', () => {
  it('leaves none of the failed apps in memory', async () => {
    const child = forkTs('test/fixtures/failed-bootstraps-retry.ts', [testRedisUrl(), '10'], {
      execArgv: ['--expose-gc'],
    });
    let report: { failures: number; made: number; alive: number } | undefined;
    child.on('message', (sent: typeof report) => (report = sent));
    const [code] = (await once(child, 'exit')) as [number | null];

    expect(code).toBe(0);
    expect(report).toMatchObject({ failures: 10, made: 10 });
    expect(report!.alive, `${report!.alive} of the 10 failed apps still in memory`).toBe(0);
  });
});

// The same worker, then an app of the same job class without CronLockModule: each failed attempt
// had left a claim on the job's mount that nothing withdrew (it holds the attempt's lock store), so
// that app booted, and its job threw the module-missing error at every tick instead.
describe('an app without CronLockModule after failed bootstraps in the same process (child process)', () => {
  it("fails its own bootstrap with the fix, and none of the failed apps' lock stores stay in memory", async () => {
    const child = forkTs(
      'test/fixtures/failed-bootstraps-then-no-module.ts',
      [testRedisUrl(), '3'],
      {
        execArgv: ['--expose-gc'],
      },
    );
    let report:
      { failures: number; made: number; alive: number; withoutModule: string } | undefined;
    child.on('message', (sent: typeof report) => (report = sent));
    const [code] = (await once(child, 'exit')) as [number | null];

    expect(code).toBe(0);
    expect(report).toMatchObject({ failures: 3, made: 3 });
    expect(report!.alive, `${report!.alive} of the 3 failed apps' stores still in memory`).toBe(0);
    expect(report!.withoutModule).toContain('CronLockModule is not imported');
  });
});
