import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { Redis } from 'ioredis';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { MemoryLockStore, type LockStore } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { DIGEST_PERIOD_MS } from './digest.service.js';
import { InstanceConfig } from './instance.config.js';
import type { LockEventRecord } from './lock-events.listener.js';
import { NetworkDelayStore } from './network-delay.store.js';
import { startInstance, type InstanceMessage } from './instance.js';
import { RunReport } from './run-report.js';

/**
 * `npm run sample`: three instances of one Nest app, each scheduling the same two jobs, and a
 * report of which instance ran each occurrence.
 *
 * - without REDIS_URL: three Nest apps in this process share one MemoryLockStore;
 * - with REDIS_URL: three processes (sample/instance.ts) lock in that Redis;
 * - with DATABASE_URL (and no REDIS_URL): three Nest apps in this process, each with a
 *   PostgresLockStore of its own (its own connection pool), lock in that PostgreSQL.
 *
 * Runs SAMPLE_SECONDS seconds (default 12), or until Ctrl-C, then closes every app. Then, with
 * the whole fleet down, it waits for an occurrence of the `digest` job (`catchUp: 'latest'`) to
 * pass and starts one instance again, which catches that occurrence up, and exits.
 */
const INSTANCES = ['instance-a', 'instance-b', 'instance-c'];
const DEFAULT_SECONDS = 12;

async function main(): Promise<void> {
  const seconds = Number(process.env.SAMPLE_SECONDS ?? DEFAULT_SECONDS);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new Error(
      `SAMPLE_SECONDS must be a positive number of seconds, got "${process.env.SAMPLE_SECONDS}"`,
    );
  }
  const redisUrl = storeSetting('REDIS_URL');
  // Read only when it decides the mode, as the command line does: beside a Redis URL it is unused.
  const databaseUrl = redisUrl ? undefined : storeSetting('DATABASE_URL');
  const report = new RunReport(INSTANCES);

  if (redisUrl) {
    await checkRedis(redisUrl);
    console.log(
      `Redis mode: three processes (${INSTANCES.join(', ')}) lock in the Redis at ${safeAddress(redisUrl)} ` +
        `(keys under cron-lock-sample:*).`,
    );
  } else if (databaseUrl) {
    console.log(
      `PostgreSQL mode: three Nest apps (${INSTANCES.join(', ')}), each with its own PostgresLockStore ` +
        `and connection pool, lock in the database at ${postgresAddress(databaseUrl)} (table public.${SAMPLE_TABLE}).`,
    );
  } else {
    console.log(
      `Memory mode: three Nest apps (${INSTANCES.join(', ')}) in this one process share one ` +
        `MemoryLockStore (behind a 0-10 ms random delay, like a network, so the winner varies).\n` +
        `Set REDIS_URL=redis://… to run three processes against Redis instead.`,
    );
  }
  printLegend(seconds);

  // Memory mode: one store for every app of this process, as one Redis is for three processes. It
  // outlives the apps, so it still knows the last digest when an app starts again.
  const memoryStore = new NetworkDelayStore(new MemoryLockStore());
  const start = (instances: string[], onEvent: (event: LockEventRecord) => void): Promise<Fleet> =>
    redisUrl
      ? forkInstances(redisUrl, instances, onEvent)
      : databaseUrl
        ? startOnPostgres(databaseUrl, instances, onEvent)
        : startInProcess(memoryStore, instances, onEvent);
  const fleet = await start(INSTANCES, (event) => report.record(event));
  console.log('time      job    what happened');
  // Report occurrences from the first full second at which all three instances were up, and stop
  // half a second before a tick rather than on one.
  const startedAt = Math.ceil(Date.now() / 1_000) * 1_000;
  const stopAt = startedAt + seconds * 1_000 - 500;
  report.startAt(startedAt);
  report.stopAt(stopAt);

  await untilTimeOrCtrlC(stopAt - Date.now());
  report.stopAt(Math.min(Date.now(), stopAt));
  console.log('\nStopping: each instance waits for its running job, releases its lock and closes.');
  await fleet.close();
  report.flush();

  const { lines, ok } = report.summary();
  console.log('\nSummary');
  for (const line of lines) {
    console.log(`  ${line}`);
  }
  if (!ok) {
    console.log('An occurrence ran on more than one instance: that is a bug, please report it.');
    process.exitCode = 1;
  }
  await catchUpAfterOutage(start);
}

/**
 * A store setting from the environment. Unset means the in-memory store; set but blank (a
 * deployment template's empty value) is a mistake, not a request for memory mode or localhost.
 */
function storeSetting(name: 'REDIS_URL' | 'DATABASE_URL'): string | undefined {
  const value = process.env[name];
  if (value !== undefined && value.trim() === '') {
    throw new Error(
      `${name} is set but empty. Fix: set it to a URL, or unset it to run on the in-memory store.`,
    );
  }
  return value;
}

/** How long the restarted instance gets to boot and catch up, on a slow machine. */
const CATCH_UP_WAIT_MS = 20_000;

/**
 * The whole fleet is down now. Waits for an occurrence of `digest` to pass with no instance up,
 * then starts one instance again: `catchUp: 'latest'` makes it run that missed occurrence once,
 * with `ctx.trigger === 'catch-up'` (DigestService prints the line).
 */
async function catchUpAfterOutage(
  start: (instances: string[], onEvent: (event: LockEventRecord) => void) => Promise<Fleet>,
): Promise<void> {
  const period = DIGEST_PERIOD_MS;
  const missed = Math.floor(Date.now() / period) * period + period;
  console.log(
    `\nEvery instance is stopped. Waiting for the digest of ${clock(missed)} to pass with no instance up…`,
  );
  await untilTimeOrCtrlC(missed + 500 - Date.now());
  const restartedAt = Date.now();
  console.log(
    `Starting ${INSTANCES[0]} again: digest has catchUp: 'latest', so it runs the occurrence the fleet missed.`,
  );
  let caughtUp: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (caughtUp = resolve));
  const fleet = await start([INSTANCES[0]], (event) => {
    // A digest run for an occurrence that passed before this instance was up: the catch-up.
    const ended = event.type === 'completed' || event.type === 'failed';
    if (ended && event.job === 'digest' && (event.scheduledAt ?? restartedAt) < restartedAt) {
      caughtUp();
    }
  });
  const seen = await Promise.race([
    done.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), CATCH_UP_WAIT_MS).unref()),
  ]);
  if (!seen) {
    console.log(`No catch-up of digest within ${CATCH_UP_WAIT_MS / 1_000} s.`);
  }
  await fleet.close();
}

/** Local wall-clock time, `HH:MM:SS`. */
function clock(ms: number): string {
  const date = new Date(ms);
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((part) => String(part).padStart(2, '0'))
    .join(':');
}

/** The lines that make the report readable without opening the code. */
function printLegend(seconds: number): void {
  console.log(
    'Jobs: quick runs every second (a few ms of work); long runs every 5 s for ~3 s under a 1.5 s lock,\n' +
      '      so its lock is renewed every 0.5 s while it works.\n' +
      "      digest runs every 3 s with catchUp: 'latest': at the end every instance stops, and the\n" +
      '      first one started again runs the digest occurrence the fleet missed.\n' +
      'Each instance schedules every occurrence; one runs it, the others skip it:\n' +
      '      tick-done = that occurrence already ran elsewhere; held = another run still holds the lock.\n' +
      "fence = the run's fencing token, larger than every earlier one of that job.\n" +
      `Running ${seconds} s (SAMPLE_SECONDS), Ctrl-C stops sooner. Starting the instances…\n`,
  );
}

interface Fleet {
  close(): Promise<void>;
}

async function startInProcess(
  store: LockStore,
  instances: string[],
  onEvent: (event: LockEventRecord) => void,
): Promise<Fleet> {
  const apps: INestApplicationContext[] = await Promise.all(
    instances.map((instanceId, i) =>
      startInstance(new InstanceConfig(instanceId, { store }, onEvent), i === 0),
    ),
  );
  return {
    close: async () => {
      await Promise.all(apps.map((app) => app.close()));
    },
  };
}

/** The sample's own table, created on first use. */
const SAMPLE_TABLE = 'cron_lock_sample';

async function startOnPostgres(
  databaseUrl: string,
  instances: string[],
  onEvent: (event: LockEventRecord) => void,
): Promise<Fleet> {
  const stores = instances.map(
    () => new PostgresLockStore(databaseUrl, { table: SAMPLE_TABLE, logger: false }),
  );
  const apps = await Promise.all(
    instances.map((instanceId, i) =>
      startInstance(new InstanceConfig(instanceId, { store: stores[i] }, onEvent), i === 0),
    ),
  );
  return {
    close: async () => {
      await Promise.all(apps.map((app) => app.close()));
      // A store passed as `store` is the app's to close: the module never closes it.
      await Promise.all(stores.map((store) => store.close()));
    },
  };
}

/** host:port/database of a PostgreSQL URL, never its user name or password. */
function postgresAddress(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return 'the configured database';
  }
}

async function forkInstances(
  redisUrl: string,
  instances: string[],
  onEvent: (event: LockEventRecord) => void,
): Promise<Fleet> {
  const file = fileURLToPath(new URL('./instance.ts', import.meta.url));
  const loader = new URL('../scripts/register-ts.mjs', import.meta.url).href;
  const children: ChildProcess[] = instances.map((instanceId, i) =>
    fork(file, [instanceId], {
      execArgv: ['--import', loader],
      env: { ...process.env, REDIS_URL: redisUrl, SAMPLE_SERVE_DASHBOARD: i === 0 ? '1' : '0' },
    }),
  );
  const ready = children.map(
    (child) =>
      new Promise<void>((resolve, reject) => {
        child.on('message', (message: InstanceMessage) => {
          if (message.kind === 'ready') {
            resolve();
          } else if (message.kind === 'event') {
            onEvent(message.event);
          }
        });
        child.once('exit', (code) =>
          reject(new Error(`an instance exited during startup (code ${code})`)),
        );
      }),
  );
  const exited = children.map((child) =>
    child.exitCode !== null ? Promise.resolve() : once(child, 'exit').then(() => undefined),
  );
  try {
    await Promise.all(ready);
  } catch (error) {
    children.forEach((child) => child.kill());
    throw error;
  }
  return {
    close: async () => {
      for (const child of children) {
        if (child.connected) {
          child.send('stop');
        }
      }
      await Promise.all(exited);
      const failed = children.filter((child) => child.exitCode !== 0);
      if (failed.length > 0) {
        process.exitCode = 1;
        console.log(`${failed.length} instance(s) did not exit cleanly`);
      }
    },
  };
}

/** Resolves after `ms`, or at the first Ctrl-C; a second Ctrl-C exits at once. */
function untilTimeOrCtrlC(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(timer);
      process.removeListener('SIGINT', done);
      process.once('SIGINT', () => process.exit(130));
      resolve();
    }
    process.once('SIGINT', done);
  });
}

/** Fails fast with a clear message instead of a report full of `store-error` skips. */
async function checkRedis(url: string): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  client.on('error', (error: unknown) => (lastError = error));
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(
      `Cannot reach Redis at ${safeAddress(url)} (${failureCode(lastError ?? error)}). ` +
        'Start one (redis-server) or unset REDIS_URL to use the in-memory store.',
      { cause: error },
    );
  } finally {
    client.disconnect();
  }
}

/**
 * Why a connection failed, in words that carry no secret: the system's error code
 * (`ECONNREFUSED`, `ENOTFOUND`) or the first word of Redis' reply (`WRONGPASS`, `NOAUTH`), never
 * the driver's whole message.
 */
function failureCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) {
    return code;
  }
  const word = error instanceof Error ? /^[A-Z]+(?= )/.exec(error.message)?.[0] : undefined;
  return word ?? 'no answer';
}

/** host:port of a Redis URL, never its user name or password. */
function safeAddress(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || 6379}`;
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
