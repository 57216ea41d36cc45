// The published package, as a user gets it: the files `npm pack` puts in the tarball, and every
// entry point of its `exports` map loaded from an installed copy with `require` and with `import`.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fork-ts.js';
import { npm, packInto } from './support/pack.js';

const run = promisify(execFile);

interface Manifest {
  main: string;
  types: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, { types: string; default: string }>>;
  typesVersions: Record<string, Record<string, string[]>>;
}

const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as Manifest;
const specifierOf = (key: string): string =>
  key === '.' ? 'nestjs-cron-lock' : `nestjs-cron-lock/${key.slice(2)}`;
/** Subpaths that are modules: loaded with require and import, typed for every resolution. */
const specifiers = Object.keys(manifest.exports)
  .filter((key) => key !== './package.json' && typeof manifest.exports[key] !== 'string')
  .map(specifierOf);
/** Subpaths that are plain files (schema.sql): resolved to a shipped file and read, not loaded. */
const fileSpecifiers = Object.entries(manifest.exports)
  .filter(([key, entry]) => key !== './package.json' && typeof entry === 'string')
  .map(([key, entry]) => [specifierOf(key), entry as string] as const);

/** `node` in `cwd`, returning what the script prints on stdout as JSON. */
async function nodeJson<T>(cwd: string, args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, args, { cwd, timeout: 120_000 });
  return JSON.parse(stdout) as T;
}

describe('the packed tarball', () => {
  let files: string[] = [];
  let workDir = '';
  let appDir = '';

  beforeAll(async () => {
    // The build is the test run's (built by the CI, or by the global setup in a fresh clone).
    const { stdout } = await run(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: REPO_ROOT,
      timeout: 120_000,
    });
    const [report] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    files = report.files.map((file) => file.path);

    // Inside the repository, so that the installed copy finds its peers (Nest, ioredis) in the
    // repository's node_modules, as an app finds them in its own.
    await mkdir(join(REPO_ROOT, '.tmp'), { recursive: true });
    workDir = await mkdtemp(join(REPO_ROOT, '.tmp', 'tarball-'));
    const tarball = await packInto(workDir);
    appDir = join(workDir, 'app');
    const installed = join(appDir, 'node_modules', 'nestjs-cron-lock');
    await mkdir(installed, { recursive: true });
    await run('tar', ['xzf', tarball, '-C', installed, '--strip-components=1']);
    await writeFile(join(appDir, 'package.json'), '{ "name": "app", "private": true }\n');
  }, 600_000);

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('holds the licence, the readme, the changelog and both builds, and no sources or tests', () => {
    for (const file of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json']) {
      expect(files).toContain(file);
    }
    for (const file of ['dist/index.js', 'dist/cjs/index.js', 'dist/cjs/package.json']) {
      expect(files).toContain(file);
    }
    expect(
      files.filter((file) => !/^(dist\/|[A-Z]+\.md$|LICENSE$|package\.json$)/.test(file)),
    ).toEqual([]);
    expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
  });

  it('holds every file the manifest points at', () => {
    const targets = [manifest.main, manifest.types, ...Object.values(manifest.bin)];
    for (const entry of Object.values(manifest.exports)) {
      if (typeof entry === 'string') {
        targets.push(entry);
        continue;
      }
      for (const condition of Object.values(entry)) {
        targets.push(condition.types, condition.default);
      }
    }
    for (const paths of Object.values(manifest.typesVersions['*'] ?? {})) {
      targets.push(...paths);
    }
    for (const target of targets) {
      expect(files).toContain(target.replace(/^\.\//, ''));
    }
  });

  it('gives every subpath a typesVersions entry, for moduleResolution node10', () => {
    const subpaths = specifiers.filter((s) => s.includes('/')).map((s) => s.split('/')[1]);
    expect(Object.keys(manifest.typesVersions['*'] ?? {}).sort()).toEqual(subpaths.sort());
  });

  it('exports the PostgreSQL schema.sql as a file of the build, and no other plain file', () => {
    expect(fileSpecifiers).toEqual([
      ['nestjs-cron-lock/postgres/schema.sql', './dist/postgres/schema.sql'],
    ]);
  });

  it.each(fileSpecifiers)(
    'resolves %s to a shipped file, with require and with import',
    async (specifier, target) => {
      const resolved = await nodeJson<{ required: string; imported: string }>(appDir, [
        '--input-type=module',
        '-e',
        `import { createRequire } from 'node:module';
         import { fileURLToPath } from 'node:url';
         const required = createRequire(process.cwd() + '/index.js').resolve(${JSON.stringify(specifier)});
         const imported = fileURLToPath(import.meta.resolve(${JSON.stringify(specifier)}));
         console.log(JSON.stringify({ required, imported }));`,
      ]);
      const expected = join(appDir, 'node_modules', 'nestjs-cron-lock', target);
      expect(resolved.required).toBe(expected);
      expect(resolved.imported).toBe(expected);
      expect(await readFile(expected, 'utf8')).toContain('CREATE TABLE IF NOT EXISTS');
    },
  );

  it('ships source maps only with the sources they map', async () => {
    const maps = files.filter((file) => file.endsWith('.map'));
    for (const file of maps) {
      const map = JSON.parse(await readFile(join(REPO_ROOT, file), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      expect(map.sourcesContent?.length, file).toBe(map.sources.length);
      expect(
        map.sourcesContent?.every((source) => typeof source === 'string'),
        file,
      ).toBe(true);
    }
  });

  it.each(specifiers)('loads %s with require() from the CommonJS build', async (specifier) => {
    const loaded = await nodeJson<{ file: string; names: string[] }>(appDir, [
      '-e',
      `const file = require.resolve(${JSON.stringify(specifier)});
       const names = Object.keys(require(${JSON.stringify(specifier)})).sort();
       console.log(JSON.stringify({ file, names }));`,
    ]);
    expect(loaded.file).toMatch(/node_modules\/nestjs-cron-lock\/dist\/cjs\/.*index\.js$/);
    expect(loaded.names.length).toBeGreaterThan(0);
  });

  it.each(specifiers)(
    'loads %s with import from the ES module build, same names',
    async (specifier) => {
      const [esm, cjs] = await Promise.all([
        nodeJson<{ file: string; names: string[] }>(appDir, [
          '--input-type=module',
          '-e',
          `const file = import.meta.resolve(${JSON.stringify(specifier)});
         const names = Object.keys(await import(${JSON.stringify(specifier)})).sort();
         console.log(JSON.stringify({ file, names }));`,
        ]),
        nodeJson<{ names: string[] }>(appDir, [
          '-e',
          `console.log(JSON.stringify({ names: Object.keys(require(${JSON.stringify(specifier)})).sort() }));`,
        ]),
      ]);
      expect(esm.file).toMatch(/node_modules\/nestjs-cron-lock\/dist\/(?!cjs\/).*index\.js$/);
      expect(esm.names).toEqual(cjs.names);
    },
  );

  it('runs the command-line tool from the installed copy', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        join(appDir, 'node_modules', 'nestjs-cron-lock', manifest.bin['nestjs-cron-lock']!),
        '--help',
      ],
      { cwd: appDir, timeout: 60_000 },
    );
    expect(stdout).toContain('nestjs-cron-lock status');
  });

  it('keeps one registry when a process loads both builds', async () => {
    // A method decorated through the CommonJS build, bound and run by the ES module build's
    // module: with a registry per build, the run would fail with "module missing".
    const script = `
      import { createRequire } from 'node:module';
      import { Test } from '@nestjs/testing';
      import * as esm from 'nestjs-cron-lock';
      import { CronLockTestingModule, runLockedJob } from 'nestjs-cron-lock/testing';
      const cjs = createRequire(import.meta.url)('nestjs-cron-lock');
      const { Injectable } = await import('@nestjs/common');
      class Jobs {
        async hourly(ctx) { return ctx.fencingToken; }
      }
      const descriptor = Object.getOwnPropertyDescriptor(Jobs.prototype, 'hourly');
      Object.defineProperty(
        Jobs.prototype,
        'hourly',
        cjs.LockedCron('0 * * * *', '5m')(Jobs.prototype, 'hourly', descriptor) ?? descriptor,
      );
      Injectable()(Jobs);
      const moduleRef = await Test.createTestingModule({
        imports: [CronLockTestingModule.forRoot()],
        providers: [Jobs],
      }).compile();
      await moduleRef.init();
      const result = await runLockedJob(moduleRef, 'Jobs.hourly');
      await moduleRef.close();
      console.log(JSON.stringify({
        sameToken: cjs.CRON_LOCK_MODULE_OPTIONS === esm.CRON_LOCK_MODULE_OPTIONS,
        distinctBuilds: cjs.CronLockModule !== esm.CronLockModule,
        ran: result.ran,
        value: result.ran ? result.value : result.reason,
      }));`;
    await writeFile(join(appDir, 'both-builds.mjs'), script);
    const outcome = await nodeJson<Record<string, unknown>>(appDir, ['both-builds.mjs']);
    expect(outcome).toEqual({ sameToken: true, distinctBuilds: true, ran: true, value: 1 });
  });
});
