import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  LOCK_CLIENT_DEFAULTS,
  LockStoreError,
  RedisLockStore,
} from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { waitFor } from '../support/redis.js';
import { bootApp, runOnce } from './support/app.js';

// A client passed in that cannot carry a lock command while it stays as it is: the startup line
// must not call the store ready, and every skipped run must say why and what to change.

let server: RedisServerHandle;
let admin: Redis;
const clients: Redis[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url);
});

afterEach(() => {
  for (const client of clients.splice(0)) {
    client.disconnect();
  }
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

async function readyClient(options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis(server.url, { ...LOCK_CLIENT_DEFAULTS, ...options });
  clients.push(client);
  await waitFor(() => client.status === 'ready', { message: 'client ready' });
  return client;
}

/**
 * A client the app also uses for its own pub/sub. RESP2 is what ioredis 5 speaks (and ioredis 6
 * with `protocol: 2`): in subscriber mode ioredis refuses every command but (un)subscriptions and
 * PING, so the startup PING passed while every lock command failed.
 */
async function subscribedClient(): Promise<Redis> {
  const client = await readyClient({ protocol: 2 } as RedisOptions);
  await client.subscribe('app-events');
  expect(client.mode).toBe('subscriber');
  return client;
}

describe('a client passed in that the app subscribed with (RESP2)', () => {
  it('is refused when the module is built, naming the option and the fix', async () => {
    const client = await subscribedClient();

    const boot = bootApp({ redis: client, keyPrefix: 'sub', logger: false });
    await expect(boot).rejects.toThrow(CronLockConfigError);
    await expect(boot).rejects.toThrow(/^CronLockModule: option redis .*subscriber mode.*Fix: /);
    expect(() => new RedisLockStore(client, { logger: false })).toThrow(
      /^RedisLockStore: argument redis .*subscriber mode.*Fix: /,
    );
    // Nothing was written through it, and the app's subscription is left as it was.
    expect(await admin.keys('sub:*')).toEqual([]);
    expect(client.mode).toBe('subscriber');
  });

  it('subscribed after the store was built: no "ready" line, and each skipped run says why', async () => {
    const client = await readyClient({ protocol: 2 } as RedisOptions);
    const logger = new CapturingLogger();
    const store = new RedisLockStore(client, { keyPrefix: 'sub-late', logger: false });
    // As an app's own onModuleInit would, between the store's construction and the bootstrap.
    await client.subscribe('app-events');
    const app = await bootApp({ store, logger });

    const messages = logger.lines.map((line) => line.message);
    expect(messages.filter((message) => message.startsWith('Lock store ready'))).toEqual([]);
    expect(
      messages.filter((message) =>
        /^Lock store not reachable at startup: .*subscriber mode.*Fix: /.test(message),
      ),
    ).toHaveLength(1);
    const run = await runOnce(app, 'sub-late.job');
    expect(run.ran).toBe(false);
    expect(run.storeErrors).toHaveLength(1);
    expect(run.storeErrors[0]).toMatch(/subscriber mode.*Fix: /);
    await expect(store.ping()).rejects.toThrow(LockStoreError);
    await app.close();
    await store.close();
  });
});

describe('a client passed in that is closed', () => {
  it('quit or disconnected before it is handed over is refused, naming the option and the fix', async () => {
    const quit = await readyClient();
    await quit.quit();
    const disconnected = await readyClient();
    disconnected.disconnect();
    await waitFor(() => disconnected.status === 'end', { message: 'client closed' });

    for (const client of [quit, disconnected]) {
      expect(client.status).toBe('end');
      const boot = bootApp({ redis: client, keyPrefix: 'closed', logger: false });
      await expect(boot).rejects.toThrow(CronLockConfigError);
      await expect(boot).rejects.toThrow(/^CronLockModule: option redis .*closed.*Fix: /);
      expect(() => new RedisLockStore(client, { logger: false })).toThrow(
        /^RedisLockStore: argument redis .*closed.*Fix: /,
      );
    }
  });

  it('closed by the app after the store was built: startup and each skipped run name the cause and the fix', async () => {
    const client = await readyClient();
    const logger = new CapturingLogger();
    const store = new RedisLockStore(client, { keyPrefix: 'closed-late', logger: false });
    // As an app's own module would in onModuleInit (or onModuleDestroy, before a last run).
    await client.quit();
    const app = await bootApp({ store, logger });

    const messages = logger.lines.map((line) => line.message);
    expect(messages.filter((message) => message.startsWith('Lock store ready'))).toEqual([]);
    expect(
      messages.filter((message) =>
        /^Lock store not reachable at startup: LockStoreError: Redis client passed in is closed.*Fix: .*an open one \(Error: Connection is closed\.\); will keep trying$/.test(
          message,
        ),
      ),
    ).toHaveLength(1);
    const run = await runOnce(app, 'closed-late.job');
    expect(run.ran).toBe(false);
    expect(run.storeErrors).toHaveLength(1);
    expect(run.storeErrors[0]).toMatch(
      /^LockStoreError: Redis client passed in is closed.*Fix: .*an open one \(Error: Connection is closed\.\)$/,
    );
    await app.close();
    await store.close();
    expect(client.status).toBe('end');
  });
});
