// One story played through the public API on the memory, Redis and PostgreSQL stores: the events,
// metric deltas, log lines, health, history and inspect() it leaves must be the same on each, once
// what legitimately differs is normalised (tokens and fences: order only; times: relations).
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { Injectable, Module, ServiceUnavailableException } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  RedisLockStore,
  type LockContext,
  type LockStore,
} from 'nestjs-cron-lock';
import { CronLockPrometheusModule } from 'nestjs-cron-lock/prometheus';
import { CronLockHealthIndicator, CronLockHealthModule } from 'nestjs-cron-lock/terminus';
import { runLockedJob } from 'nestjs-cron-lock/testing';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { runCli } from '../cli/cli-process.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { parseMetrics } from '../integrations/support/metrics-text.js';

/** The occurrences the story uses: whole minutes in the recent past. */
const MINUTE = 60_000;
const BASE = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;
const at = (minutes: number): Date => new Date(BASE + minutes * MINUTE);

/** What the scheduled job does on its next call; set by each step. */
const job = { mode: 'complete' as 'complete' | 'throw' | 'hold', release: (): void => undefined };

/** Its ttl outlasts the story: the run app.close() gives up on keeps the lock as long. */
@Injectable()
class ParityJob {
  @LockedCron('0 0 1 1 *', { name: 'parity-job', ttl: '60s' })
  async run(ctx: LockContext): Promise<string> {
    if (job.mode === 'throw') throw new Error('job failed at step 7');
    if (job.mode === 'hold') {
      await new Promise<void>((resolve) => {
        job.release = resolve;
        ctx.signal.addEventListener('abort', () => resolve());
      });
    }
    return 'done';
  }
}

@Injectable()
class QueueJob {
  @LockedCron('0 0 1 1 *', { name: 'parity-queue', ttl: '5s', overlap: 'queue' })
  async run(): Promise<void> {
    await new Promise<void>((resolve) => (queue.release = resolve));
  }
}
const queue = { release: (): void => undefined };

/** A weekly job that runs the latest occurrence no instance ran when an instance starts. */
@Injectable()
class CatchUpJob {
  @LockedCron('0 0 * * 1', {
    name: 'parity-catch',
    ttl: '5s',
    timeZone: 'UTC',
    catchUp: 'latest',
    catchUpWindow: '24d',
  })
  async run(): Promise<void> {}
}

/** Midnight UTC of the Monday `weeks` from the latest one. */
function week(weeks: number): Date {
  const now = new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const sinceMonday = (now.getUTCDay() + 6) % 7;
  return new Date(today + (weeks * 7 - sinceMonday) * 86_400_000);
}

/** Everything one store's story left behind, normalised. */
interface StoryRecord {
  steps: unknown;
  events: unknown;
  logs: string[];
  metrics: Record<string, number>;
  history: unknown;
  inspect: unknown;
  health: unknown;
}

const VOLATILE = new Set([
  'durationMs',
  'acquireMs',
  'ttl',
  'ttlLeft',
  'lastDurationMs',
  'startedAt',
  'finishedAt',
  'lastFinishedAt',
  'lastSuccessAt',
  'nextAt',
  'ownerTag',
  'requestId',
  'roundTripMs',
  'lastTick',
  'retryIn',
]);

/** The fences seen per job, in order of arrival. */
type Fences = Map<string, number[]>;

/** Replaces what may differ between stores by its shape, keeping fences in order only. */
function normalise(value: unknown, fences: Fences, key = '', job = ''): unknown {
  if (value === null || value === undefined) return value;
  if (key === 'fencingToken' && typeof value === 'number') {
    const seen = fences.get(job) ?? [];
    fences.set(job, seen);
    if (!seen.includes(value)) seen.push(value);
    return `fence#${[...seen].sort((a, b) => a - b).indexOf(value)}`;
  }
  if (VOLATILE.has(key)) return value instanceof Date ? '<date>' : `<${typeof value}>`;
  if (value instanceof Date) {
    for (let weeks = -4; weeks <= 1; weeks++) {
      if (value.getTime() === week(weeks).getTime()) return `week(${weeks})`;
    }
    const offset = value.getTime() - BASE;
    return offset % MINUTE === 0 && Math.abs(offset) < 60 * MINUTE
      ? `at(${offset / MINUTE})`
      : '<date>';
  }
  if (typeof value === 'function') return '<function>';
  if (value instanceof Error) return `${value.name}: ${text(value.message)}`;
  if (Array.isArray(value)) return value.map((item) => normalise(item, fences, '', job));
  if (typeof value === 'object') {
    const own = (value as { name?: unknown }).name;
    const scope = typeof own === 'string' ? own : job;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, normalise(v, fences, k, scope)]),
    );
  }
  if (typeof value === 'string') return text(value);
  return value;
}

/** {@link normalise} once all fences are known, so that each one's rank is final. */
function stable(value: unknown): unknown {
  const fences: Fences = new Map();
  normalise(value, fences);
  return normalise(value, fences);
}

function text(message: string): string {
  return message
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<iso>')
    .replace(/\bfence \d+/g, 'fence F')
    .replace(/\b[0-9a-f]{12,}\b/g, '<hex>')
    .replace(/\d+(\.\d+)?\s?ms\b/g, 'N ms');
}

/**
 * The log lines, normalised, without the startup line, which names the store (the memory store
 * warns that it holds within one process, the others say they are ready).
 */
function storyLogs(logger: CapturingLogger): string[] {
  return logger.lines
    .map((line) => `${line.level} ${text(line.message)}`)
    .filter((line) => !/^(warn Using the in-memory|log Lock store ready)/.test(line));
}

async function health(app: TestingModule): Promise<unknown> {
  const indicator = app.get(CronLockHealthIndicator);
  try {
    const result = await app
      .get(HealthCheckService)
      .check([() => indicator.isHealthy('cron-lock')]);
    return result.status;
  } catch (error) {
    if (error instanceof ServiceUnavailableException) {
      return (error.getResponse() as HealthCheckResult).status;
    }
    throw error;
  }
}

/** An app on `store` with the jobs, the metrics, the health check and a capturing logger. */
async function boot(
  store: LockStore,
  logger: CapturingLogger,
  registry: Registry,
  raw: Array<{ event: string; payload: unknown }>,
): Promise<TestingModule> {
  @Module({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({ store, logger, instanceId: 'parity-a', shutdownTimeout: '300ms' }),
      CronLockPrometheusModule.forRoot({ registry }),
      TerminusModule.forRoot({ logger: false }),
      CronLockHealthModule,
    ],
    providers: [ParityJob, QueueJob, CatchUpJob],
  })
  class AppModule {}
  const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
  // Listening before init(): a catch-up at bootstrap emits its events then.
  app.get(CronLockService).onAny((event) => raw.push(event));
  await app.init();
  return app;
}

async function play(
  store: LockStore,
  dropLock: (name: string) => Promise<void>,
): Promise<StoryRecord> {
  const logger = new CapturingLogger();
  const registry = new Registry();
  const raw: Array<{ event: string; payload: unknown }> = [];
  const app = await boot(store, logger, registry, raw);
  const locks = app.get(CronLockService);
  const steps: Array<{ step: string; answer: unknown }> = [];
  const step = async (name: string, action: () => Promise<unknown>): Promise<void> => {
    let answer: unknown;
    try {
      answer = await action();
    } catch (error) {
      answer = { threw: error };
    }
    if (answer && typeof answer === 'object' && 'ctx' in answer) {
      const { ctx: _ctx, ...rest } = answer as { ctx: unknown };
      answer = rest;
    }
    steps.push({ step: name, answer });
    raw.push({ event: `-- ${name}`, payload: null });
  };

  await step('completes', () => locks.run('parity-run', { scheduledAt: at(1) }, () => 'ok'));
  await step('health at first', () => health(app));
  await step('tick-done', () => locks.run('parity-run', { scheduledAt: at(1) }, () => 'again'));
  await step('throws', () =>
    locks.run('parity-run', { scheduledAt: at(2) }, () => {
      throw new Error('boom at row 12');
    }),
  );
  await step('lock lost', () =>
    locks.run('parity-lost', { scheduledAt: at(3), ttl: '900ms' }, async (ctx) => {
      await dropLock('parity-lost');
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      return 'after loss';
    }),
  );
  await step('lock taken', async () => {
    let taker: Promise<unknown> = Promise.resolve();
    let firstDone = (): void => undefined;
    const afterFirst = new Promise<void>((resolve) => (firstDone = resolve));
    const first = await locks.run('parity-taken', { scheduledAt: at(3), ttl: '900ms' }, (ctx) => {
      // Another run takes the lock the moment it is gone, before the holder's next renewal, and
      // ends after the holder has (so the two releases come in one order on every store).
      taker = dropLock('parity-taken').then(() =>
        locks.run('parity-taken', { scheduledAt: at(4), ttl: '5s' }, () => afterFirst),
      );
      return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('lost')));
    });
    firstDone();
    return [first, await taker];
  });
  await step('held', async () => {
    let open = (): void => undefined;
    let started = false;
    const first = locks.run('parity-held', { scheduledAt: at(4) }, async () => {
      started = true;
      await new Promise<void>((resolve) => (open = resolve));
    });
    await waitFor(() => started, { message: 'the holder to start' });
    const second = await locks.run('parity-held', { scheduledAt: at(5) }, () => 'second');
    const whileHeld = await locks.inspect('parity-held');
    open();
    await first;
    return { second, whileHeld };
  });
  await step('store error at acquire', () =>
    // The store refuses an occurrence more than 15 minutes ahead of its clock.
    locks.run('parity-run', { scheduledAt: Date.now() + 3_600_000 }, () => 'never'),
  );
  await step('catch-up job, three weeks ago', () =>
    runLockedJob(app, 'parity-catch', { scheduledAt: week(-3) }),
  );
  await step('pause', () => locks.pause('parity-job', { reason: 'maintenance' }));
  await step('paused tick', () => runLockedJob(app, 'parity-job', { scheduledAt: at(6) }));
  await step('inspect while paused', () => locks.inspect('parity-job'));
  await step('resume', () => locks.resume('parity-job'));
  await step('trigger with wait', () => locks.trigger('parity-job', { wait: true }));
  await step('trigger from another app on the store', async () => {
    @Module({ imports: [CronLockModule.forRoot({ store, logger: false, instanceId: 'parity-b' })] })
    class ApiModule {}
    const api = await Test.createTestingModule({ imports: [ApiModule] }).compile();
    await api.init();
    try {
      return await api.get(CronLockService).trigger('parity-job', { wait: true, force: true });
    } finally {
      await api.close();
    }
  });
  job.mode = 'throw';
  await step('tick that throws', () => runLockedJob(app, 'parity-job', { scheduledAt: at(7) }));
  job.mode = 'complete';
  await step('queue: holder', async () => {
    const first = runLockedJob(app, 'parity-queue', { scheduledAt: at(8) });
    await waitFor(() => raw.some((e) => e.event === 'acquired' && hasName(e, 'parity-queue')));
    const second = await runLockedJob(app, 'parity-queue', { scheduledAt: at(9) });
    queue.release();
    const answer = await first;
    // The queued occurrence runs on this instance once the holder releases.
    await waitFor(
      () =>
        raw.filter((e) => e.event === 'released' && hasName(e, 'parity-queue')).length === 2 ||
        (queue.release(), false),
      { message: 'the queued occurrence to run' },
    );
    return [answer, second];
  });

  const history = {
    run: await locks.history('parity-run'),
    lost: await locks.history('parity-lost'),
    held: await locks.history('parity-held'),
    job: await locks.history('parity-job'),
    queue: await locks.history('parity-queue'),
  } as { [job: string]: unknown };
  const inspect = await locks.inspect();
  const healthStatus = await health(app);
  const samples = parseMetrics(await registry.metrics());

  // app.close() with a run in flight.
  job.mode = 'hold';
  const inFlight = runLockedJob(app, 'parity-job', { scheduledAt: at(10) }).catch(
    (error: unknown) => ({ threw: error }),
  );
  await waitFor(() => raw.some((e) => e.event === 'acquired' && hasName(e, 'parity-job', 10)));
  raw.push({ event: '-- close', payload: null });
  await app.close();
  job.mode = 'complete';
  steps.push({ step: 'in flight at close', answer: await inFlight });

  // An instance that starts after the job's occurrences were missed.
  raw.push({ event: '-- restart', payload: null });
  const restarted = await boot(store, logger, new Registry(), raw);
  await waitFor(() => raw.some((e) => e.event === 'released' && hasName(e, 'parity-catch', 0)), {
    message: 'the catch-up run',
  });
  history.catch = await restarted.get(CronLockService).history('parity-catch');
  await restarted.close();

  const metrics: StoryRecord['metrics'] = {};
  for (const sample of samples) {
    if (sample.name.endsWith('_bucket') || sample.name.endsWith('_sum')) continue;
    if (sample.value === 0) continue;
    const labels = Object.entries(sample.labels)
      .filter(([k]) => k !== 'instance')
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const value = /seconds|timestamp|ttl/.test(sample.name) ? -1 : sample.value;
    metrics[`${sample.name}{${labels}}`] = value;
  }
  const collected = {
    steps,
    events: raw.map(({ event, payload }) => ({ event, ...(payload as object) })),
    history: Object.fromEntries(
      Object.entries(history).map(([job, entries]) => [
        job,
        (entries as object[]).map((entry) => ({ name: `parity-${job}`, ...entry })),
      ]),
    ),
    inspect: (inspect as Array<{ name: string }>).filter((s) => s.name.startsWith('parity-')),
  };
  const same = stable(collected) as typeof collected;
  return {
    ...same,
    logs: storyLogs(logger),
    metrics,
    health: healthStatus,
  };
}

function hasName(event: { payload: unknown }, name: string, minute?: number): boolean {
  const payload = event.payload as { name?: string; scheduledAt?: Date | null };
  return (
    payload?.name === name &&
    (minute === undefined ||
      payload.scheduledAt?.getTime() ===
        (name === 'parity-catch' ? week(minute) : at(minute)).getTime())
  );
}

/**
 * The three stores, each with a way to delete a job's lock behind the holder's back (an operator's
 * release, a flushed key, a deleted row), which its next renewal finds gone.
 */
const stores: Array<{
  label: string;
  build: () => Promise<{
    store: LockStore;
    close: () => Promise<void>;
    dropLock: (name: string) => Promise<void>;
    /** The CLI's arguments that name this store, when the CLI can reach it. */
    cli?: { args: string[]; env: NodeJS.ProcessEnv };
  }>;
}> = [
  {
    label: 'MemoryLockStore',
    build: async () => {
      const store = new MemoryLockStore();
      return {
        store,
        close: () => store.close(),
        dropLock: async (name) => {
          await store.release({ name, token: (await store.currentToken(name))! });
        },
      };
    },
  },
  {
    label: 'RedisLockStore',
    build: async () => {
      const keyPrefix = uniquePrefix('store-parity');
      const store = new RedisLockStore(testRedisUrl(), { keyPrefix, logger: false });
      const client = newRedisClient();
      return {
        store,
        close: async () => {
          await store.close();
          await client.quit();
        },
        dropLock: async (name) => void (await client.del(`${keyPrefix}:{${name}}:lock`)),
        cli: { args: ['--prefix', keyPrefix], env: { REDIS_URL: testRedisUrl() } },
      };
    },
  },
  {
    label: 'PostgresLockStore',
    build: async () => {
      const pool = newPool();
      const table = uniqueTable('store_parity');
      const store = new PostgresLockStore(pool, { table, logger: false });
      return {
        store,
        close: async () => {
          await store.close();
          await dropTable(pool, table);
          await pool.end();
        },
        dropLock: async (name) => {
          await store.release({ name, token: (await store.currentToken(name))! });
        },
        cli: { args: ['--table', table], env: { DATABASE_URL: testPostgresUrl() } },
      };
    },
  },
];

/** What the CLI prints as JSON, normalised; `undefined` for a store it cannot reach. */
async function cliView(
  target: { args: string[]; env: NodeJS.ProcessEnv } | undefined,
): Promise<unknown> {
  if (!target) return undefined;
  const runs = await Promise.all(
    [['status'], ['history', 'parity-run'], ['history', 'parity-catch']].map((args) =>
      runCli([...args, '--json', ...target.args], { env: target.env }),
    ),
  );
  return runs.map((run) => ({
    code: run.code,
    stderr: text(run.stderr),
    // The key prefix or the table: where the store keeps the jobs, named as that store names it.
    json: stable({ ...JSON.parse(run.stdout), prefix: '<where>' }),
  }));
}

const records = new Map<string, StoryRecord>();
const cliViews = new Map<string, unknown>();

describe('one story on every built-in store', () => {
  beforeAll(async () => {
    for (const { label, build } of stores) {
      const { store, close, dropLock, cli } = await build();
      try {
        records.set(label, await play(store, dropLock));
        cliViews.set(label, await cliView(cli));
      } finally {
        await close();
      }
    }
  }, 60_000);
  afterAll(() => records.clear());

  it.each(['steps', 'events', 'logs', 'metrics', 'history', 'inspect', 'health'] as const)(
    'leaves the same %s',
    (part) => {
      const memory = records.get('MemoryLockStore')![part];
      for (const label of ['RedisLockStore', 'PostgresLockStore']) {
        expect({ label, [part]: records.get(label)![part] }).toEqual({ label, [part]: memory });
      }
    },
  );

  it('shows the same status and history through the CLI on Redis and PostgreSQL', () => {
    expect(cliViews.get('PostgresLockStore')).toEqual(cliViews.get('RedisLockStore'));
  });
});

/** A TCP proxy to a server on 127.0.0.1 that can be cut (every connection reset) and mended. */
async function cuttableProxy(targetPort: number): Promise<{
  port: number;
  cut: (on: boolean) => void;
  close: () => Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let cutOff = false;
  const server = createServer((client) => {
    client.on('error', () => client.destroy());
    if (cutOff) return void client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut: (on) => {
      cutOff = on;
      if (on) for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** `url` with its port replaced by `port`. */
function viaPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.port = String(port);
  return parsed.toString();
}

describe('a store that stops answering, on Redis and PostgreSQL', () => {
  const outage = new Map<string, unknown>();

  async function story(
    makeStore: (proxyPort: number) => { store: LockStore; close: () => Promise<void> },
    targetPort: number,
  ): Promise<unknown> {
    const proxy = await cuttableProxy(targetPort);
    const { store, close } = makeStore(proxy.port);
    const logger = new CapturingLogger();
    const registry = new Registry();
    const raw: Array<{ event: string; payload: unknown }> = [];
    const app = await boot(store, logger, registry, raw);
    try {
      const locks = app.get(CronLockService);
      const steps: unknown[] = [];
      steps.push(await locks.run('parity-outage', { scheduledAt: at(1) }, () => 'before'));
      proxy.cut(true);
      for (const minute of [2, 3, 4]) {
        steps.push(await locks.run('parity-outage', { scheduledAt: at(minute) }, () => 'during'));
      }
      steps.push(await health(app));
      proxy.cut(false);
      // Each store reconnects at its own pace: the story goes on once it answers a ping again.
      await waitFor(() => locks.ping().then(() => true), {
        timeout: 15_000,
        message: 'the store to answer again',
      });
      steps.push(await locks.run('parity-outage', { scheduledAt: at(5) }, () => 'after'));
      const metrics = Object.fromEntries(
        parseMetrics(await registry.metrics())
          .filter((s) => /errors|skips|alerts|runs_total/.test(s.name) && s.value > 0)
          .map((s) => [`${s.name}${JSON.stringify(s.labels)}`, s.value]),
      );
      const record = {
        ...(stable({ steps, events: raw }) as object),
        logs: storyLogs(logger),
        metrics,
      };
      // What the driver said names the store (docs/operations.md: the error is the store's own,
      // redacted): everything around it must match.
      return JSON.parse(
        JSON.stringify(record).replace(
          /LockStoreError: (?:[^"\\]|\\.)*?(?=\)\. Check|"|; run skipped)/g,
          'LockStoreError: <the store says>',
        ),
      ) as unknown;
    } finally {
      await app.close();
      await close();
      await proxy.close();
    }
  }

  beforeAll(async () => {
    const redisPort = Number(new URL(testRedisUrl()).port);
    outage.set(
      'RedisLockStore',
      await story((port) => {
        const store = new RedisLockStore(viaPort(testRedisUrl(), port), {
          keyPrefix: uniquePrefix('store-parity-outage'),
          logger: false,
        });
        return { store, close: () => store.close() };
      }, redisPort),
    );
    const pool = newPool();
    const table = uniqueTable('store_parity_outage');
    outage.set(
      'PostgresLockStore',
      await story(
        (port) => {
          const store = new PostgresLockStore(viaPort(testPostgresUrl(), port), {
            table,
            logger: false,
          });
          return { store, close: () => store.close() };
        },
        Number(new URL(testPostgresUrl()).port),
      ),
    );
    await dropTable(pool, table);
    await pool.end();
  }, 60_000);

  it('gives the same events, logs, metrics and health', () => {
    expect(outage.get('PostgresLockStore')).toEqual(outage.get('RedisLockStore'));
  });
});
