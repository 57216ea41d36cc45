import { randomBytes } from 'node:crypto';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_CLIENT_DEFAULTS, RedisLockStore } from 'nestjs-cron-lock';
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
