import { randomBytes } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_CLIENT_DEFAULTS, LockedCron, RedisLockStore } from 'nestjs-cron-lock';
import { RedisTcpProxy } from '../faults/support/tcp-proxy.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { waitFor } from '../support/redis.js';
import { bootApp, runOnce } from './support/app.js';

let server: RedisServerHandle;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url);
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

/** Names of the connections the server has open now. */
async function connectionNames(): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return list
    .split('\n')
    .map((line) => /\bname=(\S*)/.exec(line)?.[1] ?? '')
    .filter((name) => name !== '');
}

function uniqueName(label: string): string {
  return `${label}-${randomBytes(3).toString('hex')}`;
}

async function ready(client: Redis): Promise<void> {
  await waitFor(() => client.status === 'ready', { message: 'client ready' });
}

describe('a client passed in', () => {
  it('is used for the locks and still connected and usable after app.close()', async () => {
    const name = uniqueName('user-client');
    const client = new Redis(server.url, { ...LOCK_CLIENT_DEFAULTS, connectionName: name });
    await ready(client);
    const errorListeners = client.listenerCount('error');
    const app = await bootApp({ redis: client, keyPrefix: 'reuse', logger: false });

    expect((await runOnce(app, 'reuse.job')).ran).toBe(true);
    // The lock went through this very client: its state key exists on the server.
    expect(await client.exists('reuse:{reuse.job}:state')).toBe(1);
    await app.close();

    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
    expect(await connectionNames()).toContain(name);
    expect(client.listenerCount('error')).toBe(errorListeners);
    client.disconnect();
  });

  it('is never closed, also when the app closes while a job runs', async () => {
    const client = new Redis(server.url, { ...LOCK_CLIENT_DEFAULTS });
    await ready(client);
    const app = await bootApp({ redis: client, logger: false, shutdownTimeout: '2s' });
    let release!: () => void;
    const running = runOnce(app, 'reuse.long', () => new Promise<void>((r) => (release = r)));
    await waitFor(() => release !== undefined, { message: 'job started' });

    const closing = app.close();
    release();
    await Promise.all([closing, running]);

    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  it('is never closed when it is wrapped in a RedisLockStore passed as store', async () => {
    const client = new Redis(server.url, { ...LOCK_CLIENT_DEFAULTS });
    await ready(client);
    const app = await bootApp({
      store: new RedisLockStore(client, { logger: false }),
      logger: false,
    });

    expect((await runOnce(app, 'reuse.store')).ran).toBe(true);
    await app.close();

    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });
});

// A lazy client has not connected yet, and without an offline queue (as LOCK_CLIENT_DEFAULTS
// set it) ioredis refuses the first commands instead of connecting first. (issue: the startup
// line said the store was not reachable, and the first runs were skipped as store errors.)
describe('a client passed in with lazyConnect', () => {
  it('is connected at bootstrap: the store is ready and the first run takes its lock', async () => {
    const logger = new CapturingLogger();
    const client = new Redis(server.url, { ...LOCK_CLIENT_DEFAULTS, lazyConnect: true });
    expect(client.status).toBe('wait');
    const app = await bootApp({ redis: client, keyPrefix: 'lazy', logger });

    expect(await runOnce(app, 'lazy.first')).toEqual({ ran: true, storeErrors: [] });
    const messages = logger.lines.map((line) => line.message);
    expect(messages.filter((message) => /not reachable|store error/.test(message))).toEqual([]);
    expect(messages.some((message) => message.startsWith('Lock store ready'))).toBe(true);
    await app.close();

    // Still the user's to close.
    expect(client.status).toBe('ready');
    client.disconnect();
  });
});

// Built as the docs show (`new Redis(url, LOCK_CLIENT_DEFAULTS)`, not lazy), in a forRootAsync
// factory, the client is still connecting when the module bootstraps a few ms later, and without
// an offline queue ioredis refuses its commands until it is ready. (issue: on a healthy Redis,
// every start warned "Lock store not reachable at startup", and the jobs' schedules were never
// recorded.) The proxy holds the server's answers until the app's modules are initialised, so
// the client is connecting at bootstrap however fast this machine is.
describe('a client passed in that is still connecting', () => {
  @Injectable()
  class ConnectingJobs {
    @LockedCron('0 * * * *', { ttl: '5s', name: 'connecting.hourly' })
    hourly(): void {}
  }

  /** Boots with `client`; `onInit` runs once every module is initialised, before the bootstrap. */
  async function bootConnecting(
    client: Redis,
    logger: CapturingLogger,
    onInit: () => void,
  ): Promise<TestingModule> {
    @Injectable()
    class Network implements OnModuleInit {
      onModuleInit(): void {
        onInit();
      }
    }
    return bootApp(
      { redis: client, keyPrefix: 'connecting', logger },
      { providers: [ConnectingJobs, Network] },
    );
  }

  it('is waited for at bootstrap: the schedule is recorded and the store is ready', async () => {
    const through = await RedisTcpProxy.start(server.port);
    through.partition();
    const logger = new CapturingLogger();
    const client = new Redis(through.url, LOCK_CLIENT_DEFAULTS);
    let statusAtInit = '';
    const app = await bootConnecting(client, logger, () => {
      statusAtInit = client.status;
      through.heal();
    });

    expect(statusAtInit).not.toBe('ready');
    const lines = logger.lines.map((line) => `${line.level}: ${line.message}`);
    expect(lines.filter((line) => line.startsWith('warn'))).toEqual([]);
    expect(lines.some((line) => line.includes('Lock store ready'))).toBe(true);
    // The startup check read the server's policy instead of finding it unreadable.
    expect(lines.some((line) => line.includes('maxmemory-policy is noeviction'))).toBe(true);
    expect(await admin.hget('connecting:{connecting.hourly}:state', 'cron')).toBe('0 * * * *');
    expect(await runOnce(app, 'connecting.hourly')).toEqual({ ran: true, storeErrors: [] });
    await app.close();

    expect(client.status).toBe('ready');
    client.disconnect();
    await through.close();
  });

  it('holds up the bootstrap no longer than its commandTimeout when the server never answers', async () => {
    const through = await RedisTcpProxy.start(server.port);
    through.partition();
    const logger = new CapturingLogger();
    const client = new Redis(through.url, { ...LOCK_CLIENT_DEFAULTS, commandTimeout: 300 });
    client.on('error', () => undefined); // the ready check times out, again and again
    let initAt = 0;
    const app = await bootConnecting(client, logger, () => (initAt = performance.now()));
    const bootstrapMs = performance.now() - initAt;

    // One bounded wait for the whole bootstrap (300 ms), not one per command; slack for a loaded machine.
    expect(bootstrapMs).toBeLessThan(1_500);
    const warnings = logger.lines.filter((line) => line.level === 'warn').map((l) => l.message);
    expect(warnings.some((message) => message.startsWith('Lock store not reachable'))).toBe(true);
    // After that wait the client is used as configured: a run fails at once, it does not wait.
    const started = performance.now();
    const run = await runOnce(app, 'connecting.hourly');
    expect(run.ran).toBe(false);
    expect(performance.now() - started).toBeLessThan(250);
    await through.close(); // resets its connections: closing the app need not wait on them
    await app.close();
    client.disconnect();
  });
});

// A client passed in while its server is restarting (or not up yet, as in a compose file that
// starts the app with Redis) is `reconnecting` at bootstrap: between two tries of its
// retryStrategy, not opening a connection. (issue: the server answered a moment later, yet the
// app started with "Lock store not reachable at startup", the jobs' schedules were never recorded
// and the eviction check was skipped, as for a client still connecting.) The server is started
// again only once every module is initialised, so the client cannot be ready at bootstrap.
describe('a client passed in that is reconnecting', () => {
  @Injectable()
  class ReconnectingJobs {
    @LockedCron('0 * * * *', { ttl: '5s', name: 'reconnecting.hourly' })
    hourly(): void {}
  }

  let own: RedisServerHandle | undefined;

  afterEach(async () => {
    await own?.stop();
    own = undefined;
  });

  it('is waited for at bootstrap: the schedule is recorded and the store is ready', async () => {
    const restarting = await startRedisServer();
    own = restarting;
    // A longer commandTimeout than the default: the wait must cover a redis-server start on a
    // loaded machine plus the client's next try, up to 2 s later (its retryStrategy's cap). Before
    // the fix, the client was not waited for at all, whatever this timeout.
    const client = new Redis(restarting.url, { ...LOCK_CLIENT_DEFAULTS, commandTimeout: 10_000 });
    client.on('error', () => undefined); // refused while the server is down
    await ready(client);
    await restarting.stop();
    await waitFor(() => client.status === 'reconnecting', { message: 'client reconnecting' });

    let statusAtInit = '';
    let started: Promise<void> | undefined;
    @Injectable()
    class Restart implements OnModuleInit {
      onModuleInit(): void {
        statusAtInit = client.status;
        // Not awaited: the bootstrap begins while the server is still starting.
        started = restarting.restart();
      }
    }
    const logger = new CapturingLogger();
    const app = await bootApp(
      { redis: client, keyPrefix: 'reconnecting', logger },
      { providers: [ReconnectingJobs, Restart] },
    );
    await started;
    const direct = new Redis(restarting.url);

    // Between two tries (or, for a moment, in one the server refuses): never ready.
    expect(statusAtInit).not.toBe('ready');
    const lines = logger.lines.map((line) => `${line.level}: ${line.message}`);
    // The trigger channel's own connection, opened at once, may be refused meanwhile: it says so
    // and listens on its next try, as with a store's own client.
    expect(lines.filter((line) => /not reachable|Could not record/.test(line))).toEqual([]);
    expect(lines.some((line) => line.includes('Lock store ready'))).toBe(true);
    expect(lines.some((line) => line.includes('maxmemory-policy is noeviction'))).toBe(true);
    expect(await direct.hget('reconnecting:{reconnecting.hourly}:state', 'cron')).toBe('0 * * * *');
    expect(await runOnce(app, 'reconnecting.hourly')).toEqual({ ran: true, storeErrors: [] });
    await app.close();

    expect(client.status).toBe('ready');
    client.disconnect();
    direct.disconnect();
  });
});

// The module closes one connection of its own on a client passed in: the trigger channel's
// duplicate. The guarantees bound a close against a store that stops answering by about 2 s for
// each connection. (issue: with the server silent from the start, the subscriber never got ready,
// and app.close() took 4 s: 2 s waiting for its subscription, then 2 s more for a QUIT that could
// only wait behind it.)
describe('a client passed in whose server never answers', () => {
  @Injectable()
  class SilentJobs {
    @LockedCron('0 * * * *', { ttl: '5s', name: 'silent.hourly' })
    hourly(): void {}
  }

  it('lets app.close() finish within the bound of one connection', async () => {
    const through = await RedisTcpProxy.start(server.port);
    const client = new Redis(through.url, { ...LOCK_CLIENT_DEFAULTS, commandTimeout: 300 });
    client.on('error', () => undefined);
    await ready(client);
    // Accepted, never forwarded: the trigger channel's connection, opened at bootstrap, stays silent.
    through.partition();
    const app = await bootApp(
      { redis: client, keyPrefix: 'silent', logger: false },
      { providers: [SilentJobs] },
    );

    const started = performance.now();
    await app.close();
    const closeMs = performance.now() - started;

    // About 2 s for the one connection; the rest is slack for a loaded machine.
    expect(closeMs).toBeLessThan(3_500);
    expect(client.status).not.toBe('end');
    client.disconnect();
    await through.close();
  });
});

describe('a client the module creates', () => {
  it('from options with a url is closed on shutdown', async () => {
    const name = uniqueName('module-client');
    const app: TestingModule = await bootApp({
      redis: { url: server.url, connectionName: name },
      logger: false,
    });

    expect((await runOnce(app, 'owned.options')).ran).toBe(true);
    expect(await connectionNames()).toContain(name);
    await app.close();

    await waitFor(async () => !(await connectionNames()).includes(name), {
      message: 'module client disconnected',
    });
  });

  it('from a URL string is closed on shutdown', async () => {
    const before = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))?.[1]);
    const app = await bootApp({ redis: server.url, logger: false });

    expect((await runOnce(app, 'owned.url')).ran).toBe(true);
    const during = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))?.[1]);
    expect(during).toBe(before + 1);
    await app.close();

    await waitFor(
      async () =>
        Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))?.[1]) === before,
      { message: 'back to the connections before boot' },
    );
  });
});
