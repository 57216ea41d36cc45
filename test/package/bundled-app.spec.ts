// A CommonJS app bundled whole, its peers included, and run where no node_modules is found (a
// serverless function or a slim container image): the built package as the app resolves it,
// bundled with Rolldown (the bundler the test runner already brings, so nothing is installed).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'rolldown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fork-ts.js';

const run = promisify(execFile);

/** Each entry point that needs an optional peer, and one class it exports. */
const PEER_ENTRIES = [
  ['nestjs-cron-lock/postgres', 'PostgresLockStore'],
  ['nestjs-cron-lock/prometheus', 'CronLockPrometheusModule'],
  ['nestjs-cron-lock/terminus', 'CronLockHealthModule'],
  ['nestjs-cron-lock/event-emitter', 'CronLockEventEmitterModule'],
] as const;

describe('a CommonJS app bundled with its peers', () => {
  let workDir = '';
  let appDir = '';

  beforeAll(async () => {
    // The build is the test run's (built by the CI, or by the global setup in a fresh clone).
    workDir = await mkdtemp(join(tmpdir(), 'cron-lock-bundled-'));
    appDir = join(workDir, 'app');
    await mkdir(join(appDir, 'node_modules'), { recursive: true });
    // The package as an app's node_modules holds it; its own dependencies (the peers among them)
    // are found beside it, as in an app that installed them.
    await symlink(REPO_ROOT, join(appDir, 'node_modules', 'nestjs-cron-lock'), 'dir');
  });

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it.each(PEER_ENTRIES)(
    'loads %s from the bundle, the peer bundled in it',
    async (entry, exported) => {
      const name = entry.split('/')[1];
      const source = join(appDir, `${name}.cjs`);
      await writeFile(
        source,
        `const { ${exported} } = require('${entry}');\n` +
          `console.log('loaded ' + typeof ${exported});\n`,
      );
      // Outside the app: nothing the bundle needs may come from a node_modules at run time.
      const bundle = join(workDir, 'out', `${name}.cjs`);
      await build({
        input: source,
        platform: 'node',
        // Optional packages of Nest's own that the app does not install: left out, as they are
        // loaded only when used.
        logLevel: 'silent',
        output: { file: bundle, format: 'cjs', inlineDynamicImports: true },
      });

      const { stdout } = await run(process.execPath, [bundle], {
        cwd: join(workDir, 'out'),
        timeout: 60_000,
      }).catch((error: { stderr?: string }) => {
        // The first lines say what failed (before: a CronLockConfigError saying the peer is not
        // installed, although the bundle holds it).
        throw new Error(
          `${entry}: the bundle failed: ${error.stderr?.split('\n').slice(0, 6).join('\n')}`,
        );
      });
      expect(stdout.trim()).toBe('loaded function');
    },
  );
});
