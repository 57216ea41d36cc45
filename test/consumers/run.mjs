// Installs the packed package into apps as their generators write them, and uses it as the
// README says:
//
// - nest11-cjs: `nest new` of @nestjs/cli 11 (CommonJS, Jest + ts-jest), with @nestjs/schedule 6;
// - nest12-esm: `nest new` of @nestjs/cli 12 (ES modules, Vitest).
//
// Each app is copied to a temporary directory, gets the README's install line (the tarball for
// `nestjs-cron-lock`), the README's ReportsService, AppModule imports and main.ts line, and the
// README's testing example; then it type-checks, runs its unit tests (with the README's example),
// runs a fake-timer test of @LockedCron beside @Cron under its own runner (Jest or Vitest),
// and in the Jest app the switching guide's fake-timer cases under Jest's modern and legacy
// timers (fake-timers/*.spec.ts: the in-memory store; on the Redis store, runLockedJob and an
// every-second job advanced one period at a time),
// runs its starter's e2e test with the README's test recipe, builds, and runs as two instances
// against a real redis-server, where each occurrence of a per-second job must run once.
//
//   node test/consumers/run.mjs [--tarball <file>] [--keep] [app...]
//
// The last line is "consumers: N passed, N failed" (one check per step and app).
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pack } from '../../scripts/pack.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

const APPS = {
  'nest11-cjs': { esm: false, install: 'install-nest11' },
  'nest12-esm': { esm: true, install: 'install-nest12' },
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { tarball: { type: 'string' }, keep: { type: 'boolean', default: false } },
});

let passed = 0;
let failed = 0;

/** The code block the README marks with `<!-- consumer: name -->` (the next fenced block). */
function readmeBlock(name) {
  const marker = `<!-- consumer: ${name} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no block marked ${marker}`);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!match) throw new Error(`README.md: no code block after ${marker}`);
  return match[1];
}

/** A relative import as the app writes them: `./x` in CommonJS, `./x.js` in ES modules. */
function relativeImports(code, esm) {
  return code.replace(/from '(\.\.?\/[^']+?)(\.js)?'(;)?( *\/\/.*)?/g, (_, path, _js, semi) =>
    esm ? `from '${path}.js'${semi ?? ''}` : `from '${path}'${semi ?? ''}`,
  );
}

/** The text between `open` (ending in `[` or `(` or `{`) at `from` and its matching closer. */
function enclosed(text, from) {
  const pairs = { '[': ']', '(': ')', '{': '}' };
  const stack = [];
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (pairs[c]) stack.push(pairs[c]);
    else if (c === stack.at(-1)) {
      stack.pop();
      if (stack.length === 0) return { start: from + 1, end: i };
    }
  }
  throw new Error('unbalanced brackets');
}

function arrayEntries(code, key) {
  const at = code.indexOf(`${key}: [`);
  if (at < 0) return '';
  const { start, end } = enclosed(code, at + key.length + 2);
  return code.slice(start, end).trim().replace(/,$/, '');
}

/** Applies the README's AppModule (imports, providers) to the starter's AppModule. */
function applyAppModule(appDir, esm, extraProviders) {
  const file = join(appDir, 'src/app.module.ts');
  let starter = readFileSync(file, 'utf8');
  const example = relativeImports(readmeBlock('app-module'), esm);
  const importLines = example
    .split('\n')
    .filter((line) => line.startsWith('import ') && !starter.includes(line));
  const imports = arrayEntries(example, 'imports');
  const providers = [arrayEntries(example, 'providers'), ...extraProviders].filter(Boolean);

  const lastImport = starter.lastIndexOf('\nimport ');
  const lineEnd = starter.indexOf(';\n', lastImport) + 2;
  starter = starter.slice(0, lineEnd) + importLines.join('\n') + '\n' + starter.slice(lineEnd);
  // `import { Module } from '@nestjs/common'` is in both; the README's other imports are new.
  if (starter.includes('imports: [')) {
    starter = starter.replace('imports: [', `imports: [\n    ${imports},`);
  } else {
    starter = starter.replace('@Module({', `@Module({\n  imports: [\n    ${imports},\n  ],`);
  }
  const providersAt = starter.indexOf('providers: [');
  const { end } = enclosed(starter, providersAt + 'providers: '.length);
  starter = starter.slice(0, end) + ', ' + providers.join(', ') + starter.slice(end);
  writeFileSync(file, starter);
}

/** Adds the README's `app.enableShutdownHooks()` line after the app is created. */
function applyMain(appDir) {
  const file = join(appDir, 'src/main.ts');
  const line = readmeBlock('main')
    .split('\n')
    .find((l) => l.includes('enableShutdownHooks'))
    .trim();
  let main = readFileSync(file, 'utf8');
  const created = main.indexOf('NestFactory.create(');
  const { end } = enclosed(main, created + 'NestFactory.create'.length);
  const statementEnd = main.indexOf(';', end) + 1;
  main = main.slice(0, statementEnd) + '\n  ' + line + main.slice(statementEnd);
  writeFileSync(file, main);
}

/** The starter's e2e test, with the README's recipe for the app's own AppModule. */
function applyE2eRecipe(appDir, esm) {
  const file = join(appDir, 'test/app.e2e-spec.ts');
  const recipe = relativeImports(readmeBlock('e2e-recipe'), esm);
  const importLines = recipe.split('\n').filter((line) => line.startsWith('import '));
  const statement = /const moduleFixture[\s\S]*?\.compile\(\);/.exec(recipe);
  if (!statement) throw new Error('README e2e recipe: no `const moduleFixture … .compile();`');
  let spec = readFileSync(file, 'utf8');
  const starterStatement = /const moduleFixture[\s\S]*?\.compile\(\);/;
  if (!starterStatement.test(spec)) throw new Error('starter e2e test: no moduleFixture');
  spec = spec.replace(starterStatement, statement[0].replace(/\n/g, '\n    '));
  writeFileSync(file, importLines.join('\n') + '\n' + spec);
}

const TICK_SERVICE = `import { appendFileSync } from 'node:fs';
import { Injectable } from '@nestjs/common';
import { LockedCron, type LockContext } from 'nestjs-cron-lock';

/** Records each occurrence it runs, with the instance that ran it. */
@Injectable()
export class TickService {
  @LockedCron('* * * * * *', '5s')
  async tick(ctx: LockContext): Promise<void> {
    if (process.env.TICK_LOG) {
      appendFileSync(process.env.TICK_LOG, ctx.scheduledAt.toISOString() + ' ' + process.env.INSTANCE + '\\n');
    }
  }
}
`;

/**
 * A user's fake-timer test of an every-second job, under the app's own runner (Jest with its
 * default fake timers in the CommonJS app, Vitest in the ES module app): on the testing module's
 * store, one synchronous advance reaches the @LockedCron method at every tick, as it does @Cron's.
 */
function fakeTimersSpec(esm) {
  const timers = esm ? 'vi' : 'jest';
  return `import { Injectable } from '@nestjs/common';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { LockedCron } from 'nestjs-cron-lock';
import { CronLockTestingModule } from 'nestjs-cron-lock/testing';
${esm ? "import { afterEach, describe, expect, it, vi } from 'vitest';\n" : ''}
@Injectable()
class Tasks {
  cronCalls = 0;
  lockedCalls = 0;

  @Cron('* * * * * *')
  everySecond(): void {
    this.cronCalls += 1;
  }

  @LockedCron('* * * * * *')
  async everySecondLocked(): Promise<void> {
    this.lockedCalls += 1;
  }
}

describe('fake timers', () => {
  let moduleRef: TestingModule | undefined;

  afterEach(async () => {
    await moduleRef?.close();
    ${timers}.useRealTimers();
  });

  it('reaches a @LockedCron method at every tick of one synchronous advance, as @Cron', async () => {
    ${timers}.useFakeTimers({ now: new Date('2030-01-01T00:00:00.500Z') });
    moduleRef = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), CronLockTestingModule.forRoot()],
      providers: [Tasks],
    }).compile();
    await moduleRef.init();

    ${timers}.advanceTimersByTime(3_000);

    const tasks = moduleRef.get(Tasks);
    expect(tasks.cronCalls).toBe(3);
    expect(tasks.lockedCalls).toBe(3);
  });
});
`;
}

/** Runs a command; resolves to stdout and stderr together, rejects with them on failure. */
function sh(command, args, cwd, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...env, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else {
        const error = new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}`);
        error.stdout = output;
        reject(error);
      }
    });
  });
}

/** Each app's report, printed in one piece when the app is done (the apps run side by side). */
const reports = new Map();
const report = (app, line) => reports.get(app).push(line);

async function check(app, name, fn) {
  const start = Date.now();
  try {
    await fn();
    passed++;
    report(app, `  ✓ ${app}: ${name} (${Math.round((Date.now() - start) / 1000)}s)`);
    return true;
  } catch (error) {
    failed++;
    report(app, `  ✗ ${app}: ${name}`);
    const output = [error.stdout, error.stderr, error.message].filter(Boolean).join('\n');
    report(app, output.split('\n').slice(-60).join('\n'));
    return false;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function until(what, deadlineMs, test) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (await test()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function startRedis(dir) {
  const port = await freePort();
  const server = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  await until('redis-server', 30_000, async () => {
    try {
      return (await sh('redis-cli', ['-p', String(port), 'ping'], dir)).trim() === 'PONG';
    } catch {
      return false;
    }
  });
  return { port, pid: server.pid, process: server };
}

function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/** SIGTERM (the app's enableShutdownHooks), then SIGKILL after 30 s; throws if it came to that. */
async function stopAll(instances) {
  for (const { child } of instances) child.kill('SIGTERM');
  const codes = await Promise.race([
    Promise.all(instances.map(({ child }) => exited(child))),
    new Promise((resolve) => setTimeout(() => resolve('timeout'), 30_000)),
  ]);
  if (codes === 'timeout') {
    for (const { child } of instances) child.kill('SIGKILL');
    throw new Error('instances did not stop within 30 s of SIGTERM');
  }
}

/** Two instances of the built app on one Redis: every occurrence of TickService.tick runs once. */
async function twoInstances(app, appDir, redisPort) {
  const tickLog = join(appDir, 'ticks.log');
  writeFileSync(tickLog, '');
  const instances = [];
  for (const name of ['a', 'b']) {
    const port = await freePort();
    const out = join(appDir, `instance-${name}.log`);
    writeFileSync(out, '');
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: appDir,
      env: {
        ...process.env,
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        PORT: String(port),
        TICK_LOG: tickLog,
        INSTANCE: name,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (chunk) => (text += chunk));
    child.stderr.on('data', (chunk) => (text += chunk));
    instances.push({ name, child, output: () => text });
  }
  const lines = () =>
    readFileSync(tickLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' '));
  try {
    await until('8 occurrences run', 90_000, () => {
      for (const instance of instances) {
        if (instance.child.exitCode !== null) {
          throw new Error(`instance ${instance.name} exited:\n${instance.output()}`);
        }
      }
      return new Set(lines().map(([at]) => at)).size >= 8;
    });
  } finally {
    await stopAll(instances);
  }
  const runs = new Map();
  for (const [at, instance] of lines()) {
    runs.set(at, [...(runs.get(at) ?? []), instance]);
  }
  const twice = [...runs].filter(([, by]) => by.length > 1);
  if (twice.length > 0) {
    throw new Error(`occurrences run more than once: ${JSON.stringify(twice)}`);
  }
  const by = new Set([...runs.values()].flat());
  report(app, `    ${runs.size} occurrences, each once (run by: ${[...by].sort().join(', ')})`);
}

async function runApp(name, tarball, workRoot, redisPort) {
  const { esm, install } = APPS[name];
  const appDir = join(workRoot, name);
  cpSync(join(here, name), appDir, { recursive: true });

  const installLine = readmeBlock(install).trim().split(/\s+/);
  if (installLine[0] !== 'npm' || installLine[1] !== 'install') {
    throw new Error(`README ${install}: expected an npm install line`);
  }
  const packages = installLine.slice(2).map((p) => (p === 'nestjs-cron-lock' ? tarball : p));
  const installed = await check(
    name,
    'npm install (the README line, the tarball for the package)',
    // --prefer-offline: the cache answers what it holds, instead of asking the registry again.
    () => sh(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', ...packages], appDir),
  );
  if (!installed) return;

  writeFileSync(
    join(appDir, 'src/reports.service.ts'),
    relativeImports(readmeBlock('reports-service'), esm),
  );
  writeFileSync(join(appDir, 'src/tick.service.ts'), TICK_SERVICE);
  writeFileSync(join(appDir, 'src/readme-testing.spec.ts'), readmeBlock('unit-test'));
  writeFileSync(join(appDir, 'src/fake-timers.spec.ts'), fakeTimersSpec(esm));
  if (!esm) {
    // The in-memory cases run with the app's unit tests; the Redis one is run alone, below.
    cpSync(
      join(here, 'fake-timers/jest-locked-fake-timers.spec.ts'),
      join(appDir, 'src/locked-fake-timers.spec.ts'),
    );
    cpSync(
      join(here, 'fake-timers/jest-redis-fake-timers.spec.ts'),
      join(appDir, 'test/redis-fake-timers.spec.ts'),
    );
  }
  applyAppModule(appDir, esm, ['TickService']);
  const moduleFile = join(appDir, 'src/app.module.ts');
  writeFileSync(
    moduleFile,
    `import { TickService } from './tick.service${esm ? '.js' : ''}';\n` +
      readFileSync(moduleFile, 'utf8'),
  );
  applyMain(appDir);
  applyE2eRecipe(appDir, esm);

  await check(name, 'type-check (tsc --noEmit, the starter tsconfig)', () =>
    sh(npx, ['tsc', '--noEmit', '-p', 'tsconfig.json'], appDir),
  );
  await check(name, "unit tests with the README's testing example (npm test)", async () => {
    const output = await sh(npm, ['test'], appDir);
    // A run that did not pick the example up must not pass.
    if (!output.includes('readme-testing.spec.ts')) {
      throw Object.assign(new Error('the README example did not run'), { stdout: output });
    }
  });
  await check(
    name,
    `a fake-timer test of @LockedCron beside @Cron (${esm ? 'Vitest' : 'Jest'})`,
    async () => {
      const output = esm
        ? await sh(npx, ['vitest', 'run', 'src/fake-timers.spec.ts'], appDir)
        : await sh(npx, ['jest', 'src/fake-timers.spec.ts'], appDir);
      if (!/1 passed/.test(output)) {
        throw Object.assign(new Error('the fake-timer test did not run'), { stdout: output });
      }
    },
  );
  if (!esm) {
    await check(
      name,
      "the switching guide's fake-timer cases under Jest's modern and legacy timers",
      async () => {
        const output = await sh(npx, ['jest', 'src/locked-fake-timers.spec.ts'], appDir);
        if (!/Tests: +12 passed, 12 total/.test(output)) {
          throw Object.assign(new Error('not every fake-timer case ran'), { stdout: output });
        }
      },
    );
    await check(
      name,
      "runLockedJob and a stepped every-second job on the Redis store under Jest's modern fake timers",
      async () => {
        const output = await sh(
          npx,
          ['jest', '--rootDir', '.', 'test/redis-fake-timers.spec.ts'],
          appDir,
          { ...process.env, REDIS_URL: `redis://127.0.0.1:${redisPort}` },
        );
        if (!/Tests: +3 passed, 3 total/.test(output)) {
          throw Object.assign(new Error('the Redis fake-timer test did not run'), {
            stdout: output,
          });
        }
      },
    );
  }
  // No REDIS_URL: the recipe must not need one.
  const { REDIS_URL: _unused, ...withoutRedis } = process.env;
  await check(name, "the starter's e2e test with the README's forRootAsync and test recipe", () =>
    sh(npm, ['run', 'test:e2e'], appDir, withoutRedis),
  );
  const built = await check(name, 'nest build', () => sh(npm, ['run', 'build'], appDir));
  if (built) {
    await check(name, 'two instances on one redis-server run each occurrence once', () =>
      twoInstances(name, appDir, redisPort),
    );
  } else {
    failed++;
  }
}

async function main() {
  const names = positionals.length > 0 ? positionals : Object.keys(APPS);
  const tarball = values.tarball ? resolve(values.tarball) : pack();
  if (!existsSync(tarball)) throw new Error(`no tarball at ${tarball}`);
  const workRoot = mkdtempSync(join(tmpdir(), 'cron-lock-consumers-'));
  console.log(`consumer apps in ${workRoot}, tarball ${tarball}`);
  const redis = await startRedis(workRoot);
  try {
    for (const name of names) {
      if (!APPS[name]) throw new Error(`unknown app ${name}`);
    }
    // Side by side: most of an app's time is npm install, which waits on the network and disk.
    await Promise.all(
      names.map(async (name) => {
        reports.set(name, [name]);
        try {
          await runApp(name, tarball, workRoot, redis.port);
        } finally {
          console.log(reports.get(name).join('\n'));
        }
      }),
    );
  } finally {
    process.kill(redis.pid, 'SIGTERM');
    await exited(redis.process);
    if (!values.keep) rmSync(workRoot, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (error) {
  failed++;
  console.log(`consumer run failed: ${error.stack ?? error}`);
}
console.log(`consumers: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
