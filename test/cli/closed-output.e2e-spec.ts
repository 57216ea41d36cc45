// `nestjs-cron-lock … | head -1`: the reader closes the pipe once it has what it wants, and the
// command's next write fails with EPIPE. That is the reader's choice, not the command's error.
import { describe, expect, it } from 'vitest';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';

describe('nestjs-cron-lock printing into a pipe closed early', () => {
  it('ends quietly, with its exit code, after --help', async () => {
    const run = await runCli(['--help'], { closeStdout: true });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });

  it.each([[['status']], [['status', '--json']]])(
    'ends quietly, with its exit code, after %j',
    async (args) => {
      const run = await runCli([...args, '--prefix', uniquePrefix('cli-epipe')], {
        closeStdout: true,
        env: { REDIS_URL: testRedisUrl() },
      });
      expect(run.stderr).not.toContain('EPIPE');
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    },
  );

  it('still prints its errors on stderr', async () => {
    const run = await runCli(['history', 'job', '--limit', '0'], { closeStdout: true });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('nestjs-cron-lock: --limit must be a whole number');
    expect(run.stderr).not.toContain('EPIPE');
  });
});
