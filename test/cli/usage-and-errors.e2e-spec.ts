// `nestjs-cron-lock`: help, exit code 2 for wrong usage, exit code 1 with a redacted message
// when Redis cannot be reached or refuses the password.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { runCli } from './cli-process.js';

const PASSWORD = 's3cret-Pa55word';

/** A port nothing listens on (taken from the kernel, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

describe('nestjs-cron-lock usage', () => {
  it('prints the usage with --help (exit 0)', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'nestjs-cron-lock status [--redis <url>] [--prefix <prefix>] [--json]',
    );
    expect(run.stdout).toContain('nestjs-cron-lock release <job>');
    expect(run.stdout).toContain('REDIS_URL');
    expect(run.stdout).toContain('Exit codes: 0 done, 1 error');
  });

  it.each([
    [[], 'Missing command: status or release.'],
    [['stats'], 'Unknown command "stats": use status or release.'],
    [['status', '--jsn'], "Unknown option '--jsn'"],
    [['status', 'extra'], 'status takes no argument'],
    [['status', '--prefix', 'bad prefix'], '--prefix "bad prefix" is not a key prefix'],
    [['status', '--yes'], '--yes only applies to release.'],
    [['release'], 'release needs the job'],
    [['release', 'a', 'b'], 'release takes one job at a time.'],
    [['release', 'bad{name}'], '"bad{name}" is not a lock name'],
    [['release', 'job', '--json'], '--json only applies to status.'],
    [['status'], 'No Redis to connect to: pass --redis redis://host:6379 or set REDIS_URL.'],
    [
      ['status', '--redis', 'http://user:hunter2@example.com'],
      '--redis must be a redis:// or rediss:// URL, got "http://***@example.com".',
    ],
  ])('exits 2 with a usage message for %j', async (args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`nestjs-cron-lock: ${message}`);
    expect(run.stderr).toContain('Run nestjs-cron-lock --help for usage.');
    expect(run.stderr).not.toContain('hunter2');
  });

  it('prints the package version', async () => {
    const run = await runCli(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('nestjs-cron-lock when Redis cannot be used', () => {
  let secured: RedisServerHandle;

  beforeAll(async () => {
    secured = await startRedisServer({ args: ['--requirepass', PASSWORD] });
  });

  afterAll(async () => {
    await secured?.stop();
  });

  it('exits 1 with a redacted message when Redis is unreachable (--redis)', async () => {
    const port = await closedPort();
    const run = await runCli([
      'status',
      '--redis',
      `redis://admin:${PASSWORD}@127.0.0.1:${port}/0`,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `nestjs-cron-lock: Cannot reach Redis at redis://admin:***@127.0.0.1:${port}/0: `,
    );
    expect(run.stderr).toContain('ECONNREFUSED');
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('exits 1 with a redacted message when Redis is unreachable (REDIS_URL)', async () => {
    const port = await closedPort();
    const encoded = encodeURIComponent(`${PASSWORD}@/`);
    const run = await runCli(['release', 'job', '--yes'], {
      env: { REDIS_URL: `redis://:${encoded}@127.0.0.1:${port}` },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Cannot reach Redis at redis://***@127.0.0.1:${port}`);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    expect(run.stdout + run.stderr).not.toContain(encoded);
  });

  it('exits 1 without the password when Redis refuses it', async () => {
    const wrong = `redis://:not-${PASSWORD}@127.0.0.1:${secured.port}`;
    const run = await runCli(['status', '--redis', wrong]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /Cannot reach Redis at redis:\/\/\*\*\*@127\.0\.0\.1:\d+: .*WRONGPASS/,
    );
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('works with the right password (and never prints it)', async () => {
    const run = await runCli(['status', '--json', '--prefix', 'nothing-here'], {
      env: { REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${secured.port}` },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ prefix: 'nothing-here', jobs: [] });
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });
});
