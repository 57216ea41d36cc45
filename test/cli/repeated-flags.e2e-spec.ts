// `nestjs-cron-lock` with a flag that takes a value given twice (a shell alias plus a typed flag):
// a usage error naming the flag, never the last value taken in silence.
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-process.js';

const PASSWORD = 'rep3ated-Pa55word';

describe('nestjs-cron-lock with a flag given twice', () => {
  it.each<[string, string[]]>([
    [
      '--redis',
      ['status', '--redis', `redis://:${PASSWORD}@127.0.0.1:1`, '--redis', 'redis://127.0.0.1:2'],
    ],
    ['--prefix', ['status', '--redis', 'redis://127.0.0.1:1', '--prefix', 'a', '--prefix', 'b']],
    [
      '--database',
      [
        'history',
        'job',
        '--database',
        'postgres://127.0.0.1:1/a',
        '--database=postgres://127.0.0.1:1/b',
      ],
    ],
    [
      '--table',
      ['status', '--database', 'postgres://127.0.0.1:1/a', '--table', 'a', '--table', 'b'],
    ],
    [
      '--limit',
      ['history', 'job', '--redis', 'redis://127.0.0.1:1', '--limit', '5', '--limit', '50'],
    ],
  ])('exits 2 naming %s, without connecting', async (flag, args) => {
    const run = await runCli(args, { env: { DATABASE_URL: undefined } });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`nestjs-cron-lock: ${flag} is given twice`);
    expect(run.stderr).not.toContain('Cannot reach');
    expect(run.stderr).not.toContain(PASSWORD);
  });

  it('still accepts a repeated switch (--yes --yes) as once', async () => {
    const run = await runCli(['release', 'job', '--redis', 'redis://127.0.0.1:1', '--yes', '-y']);
    // Past the usage check: it tries to connect.
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Cannot reach Redis');
  });
});
