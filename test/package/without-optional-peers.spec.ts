// The package in an app that installed none of its optional peers (pg, prom-client,
// @nestjs/terminus, @nestjs/event-emitter): the packed tarball installed with a plain
// `npm install`, outside the repository, so that nothing of the repository's node_modules is found.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npm, packInto } from './support/pack.js';

const run = promisify(execFile);
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const OPTIONAL_PEERS = ['pg', 'prom-client', '@nestjs/terminus', '@nestjs/event-emitter'];
/** The entry points that each need one optional peer. */
const PEER_ENTRIES = [
  ['nestjs-cron-lock/postgres', 'pg'],
  ['nestjs-cron-lock/prometheus', 'prom-client'],
  ['nestjs-cron-lock/terminus', '@nestjs/terminus'],
  ['nestjs-cron-lock/event-emitter', '@nestjs/event-emitter'],
] as const;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

describe('an app without the optional peers', () => {
  let workDir = '';
  let appDir = '';

  /** The installed command, run with `npx` from the app as a user runs it. */
  async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
    const { REDIS_URL: _redis, DATABASE_URL: _database, ...inherited } = process.env;
    try {
      const { stdout, stderr } = await run(npx, ['--no-install', 'nestjs-cron-lock', ...args], {
        cwd: appDir,
        env: { ...inherited, ...env },
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: unknown; stdout?: string; stderr?: string };
      if (typeof failed.code !== 'number') throw error;
      return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  beforeAll(async () => {
    // The build is the test run's (built by the CI, or by the global setup in a fresh clone).
    workDir = await mkdtemp(join(tmpdir(), 'cron-lock-no-peers-'));
    const tarball = await packInto(workDir);
    appDir = join(workDir, 'app');
    await mkdir(appDir);
    await writeFile(join(appDir, 'package.json'), '{ "name": "app", "private": true }\n');
    // The plain install a user runs: npm adds the required peers (Nest, ioredis) by itself and
    // leaves the optional ones out. --prefer-offline: the cache answers what it holds.
    await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: appDir,
      timeout: 540_000,
    });
  }, 600_000);

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('has none of them installed, and the required peers', () => {
    for (const peer of OPTIONAL_PEERS) {
      expect(existsSync(join(appDir, 'node_modules', peer)), peer).toBe(false);
    }
    for (const peer of ['@nestjs/common', '@nestjs/core', '@nestjs/schedule', 'ioredis']) {
      expect(existsSync(join(appDir, 'node_modules', peer)), peer).toBe(true);
    }
  });

  it.each(['nestjs-cron-lock', 'nestjs-cron-lock/testing', 'nestjs-cron-lock/dashboard'])(
    'loads %s with require and with import',
    async (specifier) => {
      const { stdout } = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { createRequire } from 'node:module';
           const required = createRequire(process.cwd() + '/index.js')(${JSON.stringify(specifier)});
           const imported = await import(${JSON.stringify(specifier)});
           console.log(JSON.stringify([Object.keys(required).length, Object.keys(imported).length]));`,
        ],
        { cwd: appDir, timeout: 60_000 },
      );
      const [required, imported] = JSON.parse(stdout) as [number, number];
      expect(required).toBeGreaterThan(0);
      expect(imported).toBe(required);
    },
  );

  it.each(
    PEER_ENTRIES.flatMap(([entry, peer]) =>
      (['import', 'require'] as const).map((how) => [entry, how, peer] as const),
    ),
  )(
    'loading %s with %s fails with a CronLockConfigError that names %s and its install',
    async (entry, how, peer) => {
      // The error the app can catch, checked against the class the app imports from the package.
      const load =
        how === 'import'
          ? `const { CronLockConfigError } = await import('nestjs-cron-lock');
             const load = () => import(${JSON.stringify(entry)});`
          : `const require = createRequire(process.cwd() + '/index.js');
             const { CronLockConfigError } = require('nestjs-cron-lock');
             const load = async () => require(${JSON.stringify(entry)});`;
      const { stdout } = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { createRequire } from 'node:module';
           ${load}
           try {
             await load();
             console.log(JSON.stringify({ loaded: true }));
           } catch (error) {
             console.log(JSON.stringify({
               name: error.name,
               configError: error instanceof CronLockConfigError,
               message: error.message,
             }));
           }`,
        ],
        { cwd: appDir, timeout: 60_000 },
      );
      const outcome = JSON.parse(stdout) as {
        name?: string;
        configError?: boolean;
        message?: string;
      };

      expect(outcome).toMatchObject({ name: 'CronLockConfigError', configError: true });
      expect(outcome.message).toContain(`${entry} needs the optional peer dependency "${peer}"`);
      expect(outcome.message).toContain(`Fix: npm install ${peer}`);
      // Node's own error: where it looked on this machine, and nothing of the fix.
      expect(outcome.message).not.toContain('Cannot find');
      expect(outcome.message).not.toContain(workDir);
      expect(outcome.message).not.toContain(homedir());
    },
  );

  it.each(PEER_ENTRIES)(
    'an app importing %s statically stops at start-up on the fix, not on the missing %s',
    async (entry, peer) => {
      // Node resolves every static import before any module runs: the case a check inside the
      // library's own modules could not reach.
      const main = `main-${entry.split('/')[1]}.mjs`;
      await writeFile(join(appDir, main), `import * as entry from ${JSON.stringify(entry)};\n`);
      const outcome = await run(process.execPath, [main], { cwd: appDir, timeout: 60_000 })
        .then(() => ({ code: 0, stderr: '' }))
        .catch((error: { code?: number; stderr?: string }) => ({
          code: error.code,
          stderr: error.stderr ?? '',
        }));

      expect(outcome.code).toBe(1);
      expect(outcome.stderr).toContain(
        `CronLockConfigError: ${entry} needs the optional peer dependency "${peer}"`,
      );
      expect(outcome.stderr).not.toContain('Cannot find');
    },
  );

  it.each([
    ['--database', ['status', '--database', 'postgres://app:s3cret@127.0.0.1:1/app'], {}],
    ['DATABASE_URL', ['status'], { DATABASE_URL: 'postgres://app:s3cret@127.0.0.1:1/app' }],
  ] as const)(
    'the command on a PostgreSQL store (%s) names the pg package to install, exit 1',
    async (_via, args, env) => {
      const outcome = await cli([...args], env);

      expect(outcome.code).toBe(1);
      expect(outcome.stdout).toBe('');
      const lines = outcome.stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(/^nestjs-cron-lock: .*\bpg\b.*npm install pg/);
      expect(lines.at(-1)).toContain('npx -p nestjs-cron-lock -p pg nestjs-cron-lock');
      // Node's own error says where the package lives on this machine, and nothing of the fix.
      expect(outcome.stderr).not.toContain('Cannot find package');
      expect(outcome.stderr).not.toContain(workDir);
      expect(outcome.stderr).not.toContain(homedir());
      expect(outcome.stderr).not.toContain('s3cret');
    },
  );

  // Three npx starts, each allowed 60 s: the default test timeout covers only one of them, and a
  // loaded machine took 40 s for the three.
  it('runs the command from the installed copy with npx: help 0, a bad flag 2, no URL 2', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('nestjs-cron-lock status');

    const badFlag = await cli(['status', '--no-such-flag']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('--no-such-flag');
    expect(badFlag.stderr).toContain('nestjs-cron-lock --help');

    const noUrl = await cli(['status']);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('pass --redis redis://host:6379 or set REDIS_URL');
  }, 180_000);
});
