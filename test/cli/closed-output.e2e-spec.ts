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

  it.each([
    ['a usage error (exit 2)', () => ['status', '--jsn'], 2],
    [
      // A password in --redis is warned about on stderr; the server has none and lets it in.
      'a status that printed a warning (exit 0)',
      () => [
        'status',
        '--redis',
        testRedisUrl().replace('redis://', 'redis://:not-needed@'),
        '--prefix',
        uniquePrefix('cli-epipe'),
      ],
      0,
    ],
  ])(
    'keeps its exit code after %s when stderr is a pipe closed early',
    async (_case, args, code) => {
      const run = await runCli(args(), { closeStderr: true });
      expect(run.code).toBe(code);
    },
  );
});
