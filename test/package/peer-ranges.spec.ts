// The package on the lowest version in range of every peer, and on the newest ioredis 5 beside
// current peers: the packed tarball installed with a plain `npm install` into two apps outside
// the repository (whose own devDependencies are the newest of each), then used there against
// real servers. The package's ioredis, @nestjs/schedule and pg are the apps' installed copies.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPostgresUrl } from '../support/postgres.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { npm, packInto } from './support/pack.js';

const run = promisify(execFile);
const FIXTURES = fileURLToPath(new URL('./fixtures/peers/', import.meta.url));
const VITEST = join(
  dirname(createRequire(import.meta.url).resolve('vitest/package.json')),
  'vitest.mjs',
);

/** The lowest release of each peer range in package.json, pinned (plus what they need). */
const LOWEST = {
  '@nestjs/common': '11.0.0',
  '@nestjs/core': '11.0.0',
  '@nestjs/platform-express': '11.0.0',
  '@nestjs/schedule': '6.0.0',
  ioredis: '5.4.0',
  'reflect-metadata': '0.2.0',
  pg: '8.13.0',
  'prom-client': '15.0.0',
  '@nestjs/terminus': '11.0.0',
  '@nestjs/event-emitter': '3.0.0',
  rxjs: '7.8.1',
};

interface App {
  name: string;
  /** npm install's arguments after the tarball. */
  install: string[];
  /** Runs the PostgreSQL store's contract too. */
  postgres: boolean;
  dir: string;
}

const APPS: App[] = [
  {
    name: 'lowest peers',
    install: Object.entries(LOWEST).map(([name, version]) => `${name}@${version}`),
    postgres: true,
    dir: '',
  },
  {
    name: 'newest ioredis 5',
    install: [
      'ioredis@5',
      '@nestjs/common',
      '@nestjs/core',
      '@nestjs/platform-express',
      '@nestjs/schedule',
      'reflect-metadata',
      'pg',
      'prom-client',
      '@nestjs/terminus',
      '@nestjs/event-emitter',
      'rxjs',
    ],
    postgres: false,
    dir: '',
  },
];

/** The store contract suites `app` runs: Redis, and PostgreSQL where it says so. */
function contractFiles(app: App): string[] {
  return [
    'store-contract-redis.spec.mjs',
    ...(app.postgres ? ['store-contract-postgres.spec.mjs'] : []),
  ];
}

/** A fixture script run with node in `app`: its one JSON line. */
async function runScript<T>(app: App, script: string, args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, [script, ...args], {
    cwd: app.dir,
    timeout: 90_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

/**
 * The environment without this test run's own (a nested Vitest reads `VITEST_*`), and without
 * colours, so that its summary line reads as text.
 */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(VITEST|TEST$|NODE_ENV$|FORCE_COLOR$)/.test(key)) env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

interface AppOutcome {
  versions: Record<string, string>;
  runs: { instance: string; scheduledAt: number; fence: number }[];
  delayedRuns: { instance: string; afterBootstrapMs: number }[];
  manualRuns: { instance: string; trigger: string }[];
  triggered: { ran: boolean; outcome: string | null }[];
  events: string[];
  health: Record<string, { status: string }>;
  dashboardStatus: number;
  dashboardJobs: string[];
  runsMetric: boolean;
  clientStatusAfterClose: string;
}

interface InternalsOutcome {
  burst: { writes: number; answers: string[] };
  timeout: { error: string; ms: number }[];
  afterPause: { acquired?: boolean; error?: string };
}

describe('the package on the lowest peers in range, and on the newest ioredis 5', () => {
  let workDir = '';
  const servers: RedisServerHandle[] = [];
  /** Each app's run of app.mjs, shared by the tests that read it. */
  const appRuns = new Map<App, Promise<AppOutcome>>();

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'cron-lock-peers-'));
    const tarball = await packInto(workDir);
    await Promise.all(
      APPS.map(async (app, i) => {
        app.dir = join(workDir, `app-${i}`);
        await mkdir(app.dir);
        await writeFile(join(app.dir, 'package.json'), '{ "name": "app", "private": true }\n');
        const files = ['app.mjs', 'redis-internals.mjs', 'postgres-timeout.mjs'];
        for (const file of [...files, ...contractFiles(app)]) {
          await copyFile(join(FIXTURES, file), join(app.dir, file));
        }
        // One install per app, both at once: they take most of this file's time.
        await run(
          npm,
          [
            'install',
            '--prefer-offline',
            '--no-audit',
            '--no-fund',
            '--save-exact',
            tarball,
            ...app.install,
          ],
          { cwd: app.dir, timeout: 540_000 },
        );
      }),
    );
    // Paused by redis-internals.mjs: a server of their own.
    for (const _app of APPS) servers.push(await startRedisServer());
  }, 600_000);

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const appOutcome = (app: App): Promise<AppOutcome> => {
    let outcome = appRuns.get(app);
    if (outcome === undefined) {
      outcome = runScript<AppOutcome>(app, 'app.mjs', [testRedisUrl(), uniquePrefix('peers')]);
      appRuns.set(app, outcome);
    }
    return outcome;
  };

  it('installs the lowest version in range of every peer, and ioredis 5 beside current peers', async () => {
    const installed = async (app: App, name: string): Promise<string> => {
      const manifest = await readFile(join(app.dir, 'node_modules', name, 'package.json'), 'utf8');
      return (JSON.parse(manifest) as { version: string }).version;
    };
    const [lowest, newest] = APPS;
    for (const [name, version] of Object.entries(LOWEST)) {
      expect(await installed(lowest, name), name).toBe(version);
    }
    expect(await installed(newest, 'ioredis')).toMatch(/^5\./);
    // The copies the package itself loads.
    const [low, high] = await Promise.all(APPS.map(appOutcome));
    expect(low.versions).toEqual({
      ioredis: '5.4.0',
      '@nestjs/common': '11.0.0',
      '@nestjs/core': '11.0.0',
      '@nestjs/schedule': '6.0.0',
    });
    expect(high.versions.ioredis).toBe(await installed(newest, 'ioredis'));
  });

  it('passes the shipped store contract suite on the Redis store and, on the lowest peers, the PostgreSQL store', async () => {
    const outcomes = await Promise.all(
      APPS.map((app) =>
        run(
          process.execPath,
          [
            VITEST,
            'run',
            '--globals',
            '--root',
            '.',
            '--reporter=dot',
            // The Redis and PostgreSQL suites side by side (the runner's default on two cores
            // is one file at a time): they wait on their stores' clocks more than they compute.
            '--maxWorkers=2',
            ...contractFiles(app),
          ],
          {
            cwd: app.dir,
            timeout: 240_000,
            env: cleanEnv({
              REDIS_URL: testRedisUrl(),
              ...(app.postgres ? { DATABASE_URL: testPostgresUrl() } : {}),
            }),
          },
        ).then(
          ({ stdout }) => ({ app: app.name, code: 0, output: stdout }),
          (error: { code?: number; stdout?: string; stderr?: string }) => ({
            app: app.name,
            code: error.code ?? -1,
            output: `${error.stdout ?? ''}${error.stderr ?? ''}`.slice(-4_000),
          }),
        ),
      ),
    );
    const passed = outcomes.map((outcome) => {
      expect(outcome.code, `${outcome.app}:\n${outcome.output}`).toBe(0);
      return Number(/Tests +(\d+) passed \(\d+\)/.exec(outcome.output)?.[1]);
    });
    // The Redis store's suite twice (batched and plain script transport) in each app, and the
    // PostgreSQL store's once more on the lowest peers.
    expect(passed[1]).toBeGreaterThan(0);
    expect(passed[0]).toBe(passed[1] * 1.5);
  }, 300_000);

  it("gives up a PostgreSQL statement within the store's operationTimeout on the lowest pg in range", async () => {
    const [lowest] = APPS;
    const outcome = await runScript<{
      renewal: { renewed?: boolean; error?: string };
      ms: number;
      operationTimeout: number;
    }>(lowest!, 'postgres-timeout.mjs', [testPostgresUrl()]);
    expect(outcome).toMatchObject({
      renewal: { error: expect.stringMatching(/no answer from PostgreSQL within 500ms/) },
    });
    expect(outcome.ms).toBeLessThan(5_000);
  }, 120_000);

  it.each(APPS.map((app) => [app.name, app] as const))(
    '%s: two instances run each occurrence once, take trigger() over pub/sub and serve events, metrics, health and the dashboard',
    async (_name, app) => {
      const outcome = await appOutcome(app);

      const occurrences = outcome.runs.map((run) => run.scheduledAt);
      expect(occurrences.length).toBeGreaterThanOrEqual(3);
      expect(new Set(occurrences).size).toBe(occurrences.length);
      expect(outcome.triggered).toEqual([
        { ran: true, outcome: 'completed' },
        { ran: true, outcome: 'completed' },
      ]);
      expect(outcome.manualRuns).toHaveLength(2);
      expect(outcome.manualRuns.every((run) => run.trigger === 'manual')).toBe(true);
      // Each run's `completed` event, through @nestjs/event-emitter.
      expect(outcome.events.filter((event) => event.endsWith(':every-second'))).toHaveLength(
        outcome.runs.length,
      );
      expect(outcome.health['cron-lock'].status).toBe('up');
      expect(outcome.dashboardStatus).toBe(200);
      expect(outcome.dashboardJobs).toEqual(['delayed', 'every-second', 'on-demand']);
      expect(outcome.runsMetric).toBe(true);
      // A client passed in stays the app's: closing the app leaves it open.
      expect(outcome.clientStatusAfterClose).toBe('ready');
    },
    120_000,
  );

  it.each(APPS.map((app) => [app.name, app] as const))(
    '%s: a job with initialDelay runs no tick before its delay is over',
    async (_name, app) => {
      const outcome = await appOutcome(app);

      expect(outcome.delayedRuns.length).toBeGreaterThan(0);
      for (const run of outcome.delayedRuns) {
        // app.mjs's initialDelay of 2.5 s, counted from before the instance's bootstrap began.
        expect(run.afterBootstrapMs, `run on instance ${run.instance}`).toBeGreaterThanOrEqual(
          2_500,
        );
      }
    },
    120_000,
  );

  it('sends a burst of script calls in one write and times a command out, through the installed ioredis', async () => {
    const outcomes = await Promise.all(
      APPS.map((app, i) =>
        runScript<InternalsOutcome>(app, 'redis-internals.mjs', [servers[i].url]),
      ),
    );
    for (const outcome of outcomes) {
      // The first call of the turn at once, the 99 others in one write after it.
      expect(outcome.burst.writes).toBe(2);
      expect(outcome.burst.answers).toEqual(
        Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 'ran:false' : 'new:true')),
      );
      for (const call of outcome.timeout) {
        expect(call.error).toBe('LockStoreError: Error: Command timed out');
        // The client's commandTimeout is 500 ms, and no earlier (the server is paused for 1.5 s).
        expect(call.ms).toBeGreaterThanOrEqual(499);
      }
      expect(outcome.afterPause).toMatchObject({ acquired: true });
    }
  }, 120_000);
});
