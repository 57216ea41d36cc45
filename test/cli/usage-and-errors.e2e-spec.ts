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
    expect(run.stdout).toContain('nestjs-cron-lock status [--json]');
    expect(run.stdout).toContain('nestjs-cron-lock release <job>');
    expect(run.stdout).toContain(
      'nestjs-cron-lock trigger <job> [--force] [--wait] [--json] [--yes]',
    );
    expect(run.stdout).toContain('each with [--redis <url>] [--prefix <prefix>]');
    expect(run.stdout).toContain('REDIS_URL');
    expect(run.stdout).toContain('Exit codes: 0 done, 1 error');
  });

  it.each([
    [[], 'Missing command: status, release, pause, resume, trigger or history.'],
    [['stats'], 'Unknown command "stats": use status, release, pause, resume, trigger or history.'],
    [['status', '--jsn'], "Unknown option '--jsn': did you mean --json?"],
    [['history', 'job', '-l', '5'], "Unknown option '-l'. Options: --redis, --prefix,"],
    [['status', 'extra'], 'status takes no argument'],
    [['status', '--prefix', 'bad prefix'], '--prefix "bad prefix" is not a key prefix'],
    [['status', '--yes'], '--yes only applies to release, pause, resume and trigger.'],
    [['release'], 'release needs the job'],
    [['release', 'a', 'b'], 'release takes one job at a time.'],
    [['release', 'bad{name}'], '"bad{name}" is not a lock name'],
    [['release', 'job', '--json'], '--json only applies to status, trigger and history.'],
    [['release', 'job', '--force'], '--force only applies to trigger.'],
    [['pause'], 'pause needs the job: nestjs-cron-lock pause <job>.'],
    [['resume', 'a', 'b'], 'resume takes one job at a time.'],
    [['trigger', 'job', '--reason', 'x'], '--reason only applies to pause.'],
    [['history', 'job', '--limit', '0'], '--limit must be a whole number from 1 to 10000.'],
    [['history', 'job', '--wait'], '--wait only applies to trigger.'],
    [['pause', 'job', '--until', 'tomorrow'], '--until must be a duration from now'],
    [['pause', 'job', '--until', '2001-01-01T00:00:00Z'], '--until is not in the future'],
    [['pause', 'job', '--until', '30d'], '--until is more than 2147483647ms'],
    [['pause', 'job', '--reason', ''], '--reason must be a non-empty one-line text'],
    [['pause', 'job', '--reason', 'a\u001b[2Jb'], '--reason must be a non-empty one-line text'],
    [['pause', 'job', '--reason', 'a\u2028b'], '--reason must be a non-empty one-line text'],
    [['pause', 'job', '--reason', 'by \u202eexe.nimda\u202c ok'], '--reason must be a non-empty'],
    [['release', 'a\u202eb}'], '"a?b}" is not a lock name'],
    [['release', 'a\u009bb}'], '"a?b}" is not a lock name'],
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
    // Node's own advice on positional arguments after '--' fits no command of this tool.
    expect(run.stderr).not.toContain('positional argument');
  });

  it('says in --help that a password in --redis is visible in the process list', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--redis[\s\S]*process list/);
    expect(run.stdout).toContain('prefer REDIS_URL');
  });

  it.each<[string, string[], string]>([
    [
      'an extra argument of status',
      ['status', `redis://admin:${PASSWORD}@cache:6379`],
      'status takes no argument',
    ],
    ['an unknown command', [`redis://admin:${PASSWORD}@cache:6379`, 'status'], 'Unknown command'],
    ['a release job name', ['release', `redis://admin:${PASSWORD}@cache`], 'is not a lock name'],
    ['a --prefix', ['status', '--prefix', `redis://:${PASSWORD}@cache`], 'is not a key prefix'],
    ['a URL-less user info', ['release', `admin:${PASSWORD}@cache`], 'is not a lock name'],
  ])('never echoes the password in %s', async (_label, args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it.each<[string, string[]]>([
    ['a --prefix', ['status', '--prefix', `${PASSWORD}!`]],
    ['a release job name', ['release', `${PASSWORD}{x}`]],
    ['an unknown command', [PASSWORD]],
  ])('never echoes the password of REDIS_URL in %s', async (_label, args) => {
    const run = await runCli(args, { env: { REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:1` } });
    expect(run.code).toBe(2);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('prints the package version', async () => {
    const run = await runCli(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

// ioredis takes a URL with no host as the default local server: the command would read, or
// release and pause, the locks of whatever Redis runs on the machine it was typed on.
describe('nestjs-cron-lock with a Redis URL that names no server', () => {
  it.each<[string, string[], NodeJS.ProcessEnv, string]>([
    ['--redis redis://', ['status', '--redis', 'redis://'], {}, '--redis'],
    ['--redis redis:///0', ['release', 'job', '--yes', '--redis', 'redis:///0'], {}, '--redis'],
    [
      '--redis with a password and no host',
      ['pause', 'job', '--yes', '--redis', `redis://:${PASSWORD}@/0`],
      {},
      '--redis',
    ],
    ['REDIS_URL=redis://', ['status', '--json'], { REDIS_URL: 'redis://' }, 'REDIS_URL'],
    ['REDIS_URL=rediss:///2', ['history', 'job'], { REDIS_URL: 'rediss:///2' }, 'REDIS_URL'],
  ])('exits 2 naming the setting, without connecting, for %s', async (_label, args, env, name) => {
    const run = await runCli(args, { env });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`nestjs-cron-lock: ${name} names no Redis server`);
    expect(run.stderr).not.toContain('Cannot reach');
    expect(run.stderr).not.toContain(PASSWORD);
  });
});

// An empty variable (`REDIS_URL=` in a .env file, a secret that did not mount) is a mistake to
// report, not a setting to skip: skipped, REDIS_URL let DATABASE_URL pick another store.
describe('nestjs-cron-lock with a store setting that is present but empty', () => {
  const DATABASE_URL = `postgres://app:${PASSWORD}@127.0.0.1:1/app`;
  it.each<[string, string[], NodeJS.ProcessEnv, string]>([
    [
      'REDIS_URL empty beside DATABASE_URL',
      ['status'],
      { REDIS_URL: '', DATABASE_URL },
      'REDIS_URL is set but empty',
    ],
    [
      'REDIS_URL blank',
      ['release', 'job', '--yes'],
      { REDIS_URL: '  ' },
      'REDIS_URL is set but empty',
    ],
    [
      'DATABASE_URL empty',
      ['history', 'job'],
      { DATABASE_URL: '' },
      'DATABASE_URL is set but empty',
    ],
    ['--redis empty', ['status', '--redis', ''], {}, '--redis is empty'],
    [
      '--redis empty beside REDIS_URL',
      ['status', '--redis', ''],
      { REDIS_URL: 'redis://127.0.0.1:1' },
      '--redis is empty',
    ],
    ['--database empty', ['pause', 'job', '--yes', '--database', ' '], {}, '--database is empty'],
  ])('exits 2 naming it, without connecting, for %s', async (_label, args, env, message) => {
    const run = await runCli(args, { env: { DATABASE_URL: undefined, ...env } });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`nestjs-cron-lock: ${message}`);
    expect(run.stderr).not.toContain('Cannot reach');
    expect(run.stderr).not.toContain(PASSWORD);
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

  it('warns that a password in --redis is visible in the process list', async () => {
    const port = await closedPort();
    const url = `redis://admin:${PASSWORD}@127.0.0.1:${port}`;
    const flag = await runCli(['status', '--redis', url]);
    expect(flag.stderr).toMatch(/warning: --redis carries a password.*process list.*REDIS_URL/);
    expect(flag.stdout + flag.stderr).not.toContain(PASSWORD);

    const env = await runCli(['status'], { env: { REDIS_URL: url } });
    expect(env.code).toBe(1);
    expect(env.stderr).not.toContain('warning');

    const noPassword = await runCli(['status', '--redis', `redis://127.0.0.1:${port}`]);
    expect(noPassword.code).toBe(1);
    expect(noPassword.stderr).not.toContain('warning');
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

  // ioredis also reads the password from the URL's query string.
  it('exits 1 without the password when Redis refuses one given as ?password=', async () => {
    const run = await runCli(['status'], {
      env: { REDIS_URL: `redis://127.0.0.1:${secured.port}?password=not-${PASSWORD}` },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `Cannot reach Redis at redis://127.0.0.1:${secured.port}?password=***: `,
    );
    expect(run.stderr).toContain('WRONGPASS');
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('warns that a ?password= in --redis is visible in the process list', async () => {
    const port = await closedPort();
    const run = await runCli([
      'status',
      '--redis',
      `redis://127.0.0.1:${port}?password=${PASSWORD}`,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/warning: --redis carries a password.*process list.*REDIS_URL/);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('works with the right password given as ?password= (and never prints it)', async () => {
    const run = await runCli(['status', '--prefix', 'nothing-here'], {
      env: { REDIS_URL: `redis://127.0.0.1:${secured.port}?password=${PASSWORD}` },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(
      `No jobs under prefix "nothing-here" at redis://127.0.0.1:${secured.port}?password=***`,
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

// ioredis takes the last `@` before the host as the end of the user info, so a password may
// contain a raw `@`: every address the command prints must hide all of it.
describe('nestjs-cron-lock with a password containing a raw @', () => {
  const RAW_AT_PASSWORD = 'hunter@2secret';
  let server: RedisServerHandle;

  beforeAll(async () => {
    server = await startRedisServer({ args: ['--requirepass', RAW_AT_PASSWORD] });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('connects with it and prints the address without it', async () => {
    const run = await runCli(['status'], {
      env: { REDIS_URL: `redis://:${RAW_AT_PASSWORD}@127.0.0.1:${server.port}` },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`at redis://***@127.0.0.1:${server.port}`);
    expect(run.stdout + run.stderr).not.toContain('2secret');
  });

  it('exits 1 without it when Redis refuses a wrong one', async () => {
    const run = await runCli(['status'], {
      env: { REDIS_URL: `redis://:wrong@2secret@127.0.0.1:${server.port}` },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `Cannot reach Redis at redis://\\*\\*\\*@127\\.0\\.0\\.1:${server.port}: .*WRONGPASS`,
      ),
    );
    expect(run.stdout + run.stderr).not.toContain('2secret');
  });

  it('exits 1 without it, user name kept, when Redis is unreachable (--redis --json)', async () => {
    const port = await closedPort();
    const run = await runCli([
      'status',
      '--json',
      '--redis',
      `redis://admin:${RAW_AT_PASSWORD}@127.0.0.1:${port}`,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Cannot reach Redis at redis://admin:***@127.0.0.1:${port}: `);
    expect(run.stdout + run.stderr).not.toContain('2secret');
  });
});
