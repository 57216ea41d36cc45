// The package's declarations in a CommonJS app on TypeScript's defaults, `skipLibCheck` off: the
// packed tarball installed with a plain `npm install` beside the Nest 11 line of every peer,
// optional ones included, outside the repository, and type-checked with every entry point imported,
// by two compilers whose defaults differ. TypeScript 5, the app's own (as in the Nest 11 starter),
// resolves with `moduleResolution` node10 and no `esModuleInterop`; TypeScript 6, the repository's,
// resolves a CommonJS app's imports with `bundler` (and `require` conditions), and always has
// `esModuleInterop` on, so it can no longer see a default import the first rejects.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fork-ts.js';
import { npm, packInto } from './support/pack.js';

const run = promisify(execFile);
/** The repository's own compiler (TypeScript 6). */
const REPO_TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
};
/** The module entry points (schema.sql and package.json are files, not modules). */
const entries = Object.keys(manifest.exports)
  .filter((key) => typeof manifest.exports[key] !== 'string' && key !== './package.json')
  .map((key) => (key === '.' ? 'nestjs-cron-lock' : `nestjs-cron-lock/${key.slice(2)}`));

describe("the declarations on TypeScript's defaults, in a CommonJS app", () => {
  let workDir = '';
  let appDir = '';

  beforeAll(async () => {
    // The build is the test run's (built by the CI, or by the global setup in a fresh clone).
    workDir = await mkdtemp(join(tmpdir(), 'cron-lock-ts-defaults-'));
    const tarball = await packInto(workDir);
    appDir = join(workDir, 'app');
    await mkdir(appDir);
    await writeFile(join(appDir, 'package.json'), '{ "name": "app", "private": true }\n');
    // The CommonJS lines of the peers (the Nest 11 consumer's), and the types pg needs.
    await run(
      npm,
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        tarball,
        '@nestjs/common@11',
        '@nestjs/core@11',
        '@nestjs/schedule@6',
        '@nestjs/testing@11',
        '@nestjs/event-emitter@3',
        '@nestjs/terminus@11',
        'prom-client@15',
        'pg@8',
        '@types/pg@8',
        '@types/node@20',
        'typescript@5',
      ],
      { cwd: appDir, timeout: 540_000 },
    );
    // Only what a CommonJS app with decorators must set; everything else is TypeScript's default.
    await writeFile(
      join(appDir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'commonjs',
          target: 'es2022',
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          noEmit: true,
        },
        files: ['index.ts'],
      }),
    );
    await writeFile(
      join(appDir, 'index.ts'),
      entries.map((entry, i) => `import * as entry${i} from '${entry}';`).join('\n') +
        `\nexport const loaded = [${entries.map((_, i) => `entry${i}`).join(', ')}];\n`,
    );
  }, 600_000);

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  /** The errors `tsc` reports in this package's declarations or the app's file. */
  async function errorsInThePackage(tsc: string): Promise<string[]> {
    let output = '';
    try {
      await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: appDir, timeout: 240_000 });
    } catch (error) {
      output = (error as { stdout?: string }).stdout ?? String(error);
    }
    // A compiler that failed without diagnostics (a crash) must not pass for a clean check.
    expect(output === '' || /error TS\d+/.test(output), output).toBe(true);
    // Another package's own declarations are its business (a user turns skipLibCheck on for it);
    // an error in this package's is one every user of these settings gets.
    return output
      .split('\n')
      .filter((line) => /^(node_modules\/nestjs-cron-lock\/|index\.ts)/.test(line));
  }

  /** The major version of the `typescript` package whose `bin/tsc` is `tsc`. */
  function major(tsc: string): number {
    const pkg = JSON.parse(readFileSync(join(tsc, '../../package.json'), 'utf8')) as {
      version: string;
    };
    return Number(pkg.version.split('.')[0]);
  }

  it('type-checks every entry point with no error in the package', async () => {
    const tsc = join(appDir, 'node_modules/typescript/bin/tsc');
    expect(major(tsc)).toBe(5);
    expect(await errorsInThePackage(tsc)).toEqual([]);
  }, 300_000);

  it("type-checks every entry point with no error in the package on the repository's TypeScript", async () => {
    expect(major(REPO_TSC)).toBeGreaterThanOrEqual(6);
    expect(await errorsInThePackage(REPO_TSC)).toEqual([]);
  }, 300_000);
});
