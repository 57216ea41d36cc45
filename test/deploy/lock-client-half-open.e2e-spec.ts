// The lock client's own connection goes half-open (a NAT or load balancer silently forgets the flow,
// a frozen proxy): every byte on it is dropped and no reset ever arrives, while new connections get
// through to a healthy redis-server.
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LockStoreError, RedisLockStore, cronLockAclRule } from 'nestjs-cron-lock';
import { RedisTcpProxy } from '../faults/support/tcp-proxy.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { loadOtherIoredis } from '../support/other-ioredis.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { waitFor } from '../support/redis.js';
import { bootApp, runOnce } from './support/app.js';

const PREFIX = 'client-half-open';
const USER = 'half-open-worker';
const PASSWORD = 'half-open-Pa55word-7e2a';
/** Short, so that each tick on the frozen connection fails fast. */
const COMMAND_TIMEOUT_MS = 500;

let server: RedisServerHandle;
let admin: Redis;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
/** Undone after each test, last first. */
const undo: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url);
  const rules = cronLockAclRule(PREFIX).split(/\s+/);
  await admin.call('ACL', 'SETUSER', USER, 'reset', 'on', `>${PASSWORD}`, ...rules);
  process.on('unhandledRejection', onUnhandled);
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  admin?.disconnect();
  await server?.stop();
});

afterEach(async () => {
  for (const step of undo.splice(0).reverse()) {
    await step().catch(() => undefined);
  }
  unhandled.length = 0;
});

async function proxy(): Promise<RedisTcpProxy> {
  const started = await RedisTcpProxy.start(server.port);
  undo.push(() => started.close());
  return started;
}

function urlThrough(through: RedisTcpProxy): string {
  return `redis://${USER}:${PASSWORD}@127.0.0.1:${through.port}`;
}

async function boot(redis: string | Redis | object, logger: CapturingLogger) {
  const app = await bootApp({ redis, keyPrefix: PREFIX, instanceId: 'worker', logger });
  undo.push(() => app.close());
  return app;
}

/** Lines about the lock client's connection (the trigger channel's have their own prefix). */
function connectionLines(logger: CapturingLogger): Array<[string, string]> {
  return logger.lines
    .filter((line) => line.message.startsWith('Redis connection'))
    .map((line) => [line.level, line.message]);
}

/** Runs once a job by hand until one runs, within `timeout`. */
async function untilARunSucceeds(app: TestingModule, timeout: number): Promise<void> {
  await waitFor(async () => (await runOnce(app, 'half-open-job')).ran, {
    timeout,
    interval: 100,
    message: 'a run on a new connection after the lock connection went half-open',
  });
}

describe('the lock client when its connection goes half-open (real redis-server)', () => {
  it("drops the store's own half-open connection, logs that once, and runs again on a new one", async () => {
    const logger = new CapturingLogger();
    const through = await proxy();
    const app = await boot(
      { url: urlThrough(through), commandTimeout: COMMAND_TIMEOUT_MS },
      logger,
    );
    expect(await runOnce(app, 'half-open-job')).toMatchObject({ ran: true });

    through.freezeOpen();
    // Without the fix the connection stays open and every run times out until the kernel gives
    // up on its retransmissions, many minutes later.
    await untilARunSucceeds(app, 20_000);

    expect(connectionLines(logger)).toEqual([
      [
        'warn',
        expect.stringMatching(
          new RegExp(`no answer from Redis within ${COMMAND_TIMEOUT_MS}ms.*connecting again`),
        ),
      ],
    ]);
    for (const line of logger.lines) {
      expect(line.message).not.toContain(PASSWORD);
    }
    expect(unhandled).toEqual([]);
  });

  it('drops the half-open connection of a client passed in too, whose own commands are as stuck', async () => {
    const logger = new CapturingLogger();
    const through = await proxy();
    const client = new Redis(urlThrough(through), { commandTimeout: COMMAND_TIMEOUT_MS });
    undo.push(async () => client.disconnect());
    const app = await boot(client, logger);
    expect(await runOnce(app, 'half-open-job')).toMatchObject({ ran: true });

    through.freezeOpen();
    await untilARunSucceeds(app, 20_000);
    // The app's own commands on that client work again too.
    expect(await client.ping()).toBe('PONG');
    expect(connectionLines(logger)).toEqual([
      ['warn', expect.stringMatching(/no answer from Redis within 500ms.*connecting again/)],
    ]);
    expect(unhandled).toEqual([]);
  });

  it('drops the half-open connection of a client made by another copy of ioredis too', async () => {
    // An app whose ioredis is another install than the library's: its client is no instance of
    // the library's Redis class, and is still checked.
    const other = loadOtherIoredis();
    undo.push(async () => other.remove());
    const logger = new CapturingLogger();
    const through = await proxy();
    const client = new other.ioredis.Redis(urlThrough(through), {
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
    undo.push(async () => client.disconnect());
    const app = await boot(client, logger);
    expect(await runOnce(app, 'half-open-job')).toMatchObject({ ran: true });

    through.freezeOpen();
    await untilARunSucceeds(app, 20_000);
    expect(connectionLines(logger)).toEqual([
      ['warn', expect.stringMatching(/no answer from Redis within 500ms.*connecting again/)],
    ]);
    expect(unhandled).toEqual([]);
  });

  it('closes promptly while its check of a half-open connection waits for an answer', async () => {
    const logger = new CapturingLogger();
    const through = await proxy();
    const store = new RedisLockStore(
      { url: urlThrough(through), commandTimeout: COMMAND_TIMEOUT_MS },
      { keyPrefix: PREFIX, logger },
    );
    undo.push(() => store.close());
    await store.ping();
    through.freezeOpen();
    // A command times out on the frozen connection: the check of that connection starts, and
    // waits (up to the command timeout) for the answer to its own round trip.
    await expect(store.ping()).rejects.toThrow(LockStoreError);

    const started = Date.now();
    await store.close();
    // Within the client's bound on QUIT (its command timeout), not after a reconnect.
    expect(Date.now() - started).toBeLessThan(3_000);
    await waitFor(() => through.connections === 0, {
      timeout: 5_000,
      message: 'no connection left through the proxy',
    });
    // Bounded wait for something that must not happen: the check's deadline passing after the
    // close and opening a new connection.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(through.connections).toBe(0);
    expect(connectionLines(logger)).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});
