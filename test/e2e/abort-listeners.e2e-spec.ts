// A listener a job hangs on `ctx.signal` may throw when the module aborts the signal (lock lost,
// shutdown timed out). Node reports an EventTarget listener's error as an uncaught exception, on
// a later turn, which ends the process; Vitest would intercept one raised in its own process, so
// the app runs as a child process, with no handler of its own, on the real redis-server.
import { afterEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { forkTs } from '../support/fork-ts.js';
import { waitForExit } from '../support/processes.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

interface Printed {
  type: string;
  level?: string;
  message?: string;
  stack?: string;
  job?: string;
  value?: unknown;
}

/** Forking a TypeScript app on a loaded 2-core machine takes a few seconds. */
const RUN_TIMEOUT_MS = 30_000;

describe('a listener of ctx.signal that throws (child process, real redis-server)', () => {
  let child: ChildProcess | undefined;

  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    }
    child = undefined;
  });

  it('is logged, redacted and naming the job, and the process survives both aborts', async () => {
    child = forkTs('test/fixtures/abort-listener-app.ts', [], {
      env: {
        ...process.env,
        CRON_LOCK_TEST_REDIS_URL: testRedisUrl(),
        ABORT_KEY_PREFIX: uniquePrefix('abort-listener'),
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // `close`, not `exit`: the output is complete only once the pipes closed.
    let code: number | null | undefined;
    child.on('close', (exitCode) => (code = exitCode));

    await waitFor(() => code !== undefined, { timeout: RUN_TIMEOUT_MS, message: 'the app to end' });
    const printed = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Printed);

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(printed.filter((line) => line.type !== 'log')).toEqual([
      { type: 'result', job: 'lost', value: 'told' },
      { type: 'result', job: 'outlivesShutdown', value: 'stopped' },
      { type: 'done' },
    ]);

    const listenerLines = printed.filter(
      (line) => line.type === 'log' && line.message!.includes('listener of ctx.signal'),
    );
    const ofJob = (label: string) =>
      listenerLines.filter((line) => line.message!.startsWith(label)).map((line) => line.message!);
    const lost = ofJob('AbortJobs.lost');
    // One line per error: the one abort reason that two listeners rethrew is logged once.
    expect(lost).toHaveLength(5);
    for (const text of [
      'Error: listener failed, see postgres://reporter:***@db.internal/reports',
      'Error: onabort failed',
      'Error: handleEvent failed',
      'Error: async listener failed',
      'LockLostError: ',
    ]) {
      expect(lost.filter((line) => line.includes(text))).toHaveLength(1);
    }
    expect(ofJob('AbortJobs.outlivesShutdown')).toEqual([
      expect.stringContaining('Error: shutdown listener failed'),
    ]);
    expect(listenerLines).toHaveLength(6);
    for (const line of listenerLines) {
      expect(line.level).toBe('error');
    }
    expect(stdout).not.toContain('hunter2');
  });
});
