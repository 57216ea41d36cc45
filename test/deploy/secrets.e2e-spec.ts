import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CronLockService, cronLockAclRule, type CronLockModuleOptions } from 'nestjs-cron-lock';
import { waitFor } from '../support/redis.js';
import { bootApp, runOnce } from './support/app.js';
import { startCapture, type Capture } from './support/capture.js';
import {
  makeTestCertificates,
  startTlsRedisServer,
  type TestCertificates,
  type TlsRedisServer,
} from './support/tls-certs.js';

const PREFIX = 'secrets';
const ADMIN_PASSWORD = 'Admin-Pw-0b8d61e2c4';
const PASSWORD = 'Lock-Pw-5e1f9a07d3';
const WRONG_PASSWORD = 'Wrong-Pw-a4c2e8f610';

let certs: TestCertificates;
let redis: TlsRedisServer;
let admin: Redis;
let capture: Capture | undefined;
const apps: TestingModule[] = [];

function plainUrl(user: string, password: string): string {
  return `redis://${user}:${password}@127.0.0.1:${redis.server.port}`;
}

/** The lock user, and one without EVALSHA. Redefined after a restart (ACLs live in memory). */
async function createUsers(): Promise<void> {
  const rule = cronLockAclRule(PREFIX).split(' ');
  await admin.call('ACL', 'SETUSER', 'locker', 'reset', 'on', `>${PASSWORD}`, ...rule);
  await admin.call('ACL', 'SETUSER', 'limited', 'reset', 'on', `>${PASSWORD}`, ...rule, '-evalsha');
}

beforeAll(async () => {
  certs = makeTestCertificates();
  redis = await startTlsRedisServer(certs, ['--requirepass', ADMIN_PASSWORD]);
  admin = new Redis(redis.server.url, { password: ADMIN_PASSWORD, maxRetriesPerRequest: 1 });
  // Reconnects by itself after the server restarts; errors in between are expected.
  admin.on('error', () => undefined);
});

beforeEach(async () => {
  await waitFor(() => admin.status === 'ready', { timeout: 10_000, message: 'admin ready' });
  await createUsers();
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  capture?.stop();
  capture = undefined;
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.server.stop();
  certs?.remove();
});

/**
 * What must never appear in anything captured: a password (right or wrong, also URL-encoded),
 * URL user info with a password, a full owner token.
 */
function expectNoSecrets(text: string, tokens: readonly string[] = []): void {
  for (const secret of [PASSWORD, WRONG_PASSWORD, ADMIN_PASSWORD]) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(encodeURIComponent(secret));
  }
  expect(text).not.toMatch(/\/\/[^\s/@]*:(?!\*\*\*@)[^\s/@]+@/);
  for (const token of tokens) {
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect(text).not.toContain(token);
  }
}

const LOGGERS = [
  ['a LoggerService passed as logger', true],
  ["Nest's default Logger", false],
] as const;

describe.each(LOGGERS)('no secrets out, logging through %s', (_label, passLogger) => {
  async function boot(options: Omit<CronLockModuleOptions, 'logger'>): Promise<TestingModule> {
    capture = startCapture();
    const app = await bootApp(
      { ...options, ...(passLogger ? { logger: capture.logger } : {}) },
      { consoleLogger: true },
    );
    apps.push(app);
    return app;
  }

  it('with a wrong password', async () => {
    const app = await boot({ redis: plainUrl('locker', WRONG_PASSWORD), keyPrefix: PREFIX });

    const result = await runOnce(app, 'secrets.job');
    await app.close();
    apps.pop();

    expect(result.reason).toBe('store-error');
    const text = capture!.text();
    expect(text).toContain('Redis rejected the username or password (WRONGPASS)');
    expectNoSecrets(text);
  });

  it('with a NOPERM', async () => {
    const app = await boot({ redis: plainUrl('limited', PASSWORD), keyPrefix: PREFIX });

    const result = await runOnce(app, 'secrets.job');
    await app.close();
    apps.pop();

    expect(result.reason).toBe('store-error');
    const text = capture!.text();
    expect(text).toContain('Redis user lacks permission for EVALSHA');
    expectNoSecrets(text);
  });

  it('with a TLS failure', async () => {
    const app = await boot({
      redis: { url: `rediss://locker:${PASSWORD}@127.0.0.1:${redis.tlsPort}` },
      keyPrefix: PREFIX,
    });

    const result = await runOnce(app, 'secrets.job');
    await app.close();
    apps.pop();

    expect(result.reason).toBe('store-error');
    const text = capture!.text();
    expect(text).toContain('Redis TLS certificate not trusted');
    expectNoSecrets(text);
  });

  it('when the connection is killed while a job holds the lock', async () => {
    const app = await boot({ redis: plainUrl('locker', PASSWORD), keyPrefix: PREFIX });
    const locks = app.get(CronLockService);
    const tokens: string[] = [];

    const result = await locks
      .run('secrets.kill', { ttl: 900, scheduledAt: Date.now() }, async () => {
        tokens.push((await admin.get(`${PREFIX}:{secrets.kill}:lock`)) ?? '');
        await admin.client('KILL', 'USER', 'locker');
        // Hold on through the reconnection and a renewal or two.
        await new Promise((resolve) => setTimeout(resolve, 700));
        throw new Error(`job failed after the drop, url was ${plainUrl('locker', '***')}`);
      })
      .catch((error: unknown) => error);
    const after = await runOnce(app, 'secrets.kill-2');
    await app.close();
    apps.pop();

    expect(result).toBeInstanceOf(Error);
    expect(after.ran).toBe(true);
    const text = capture!.text();
    expect(text).toContain('secrets.kill');
    expectNoSecrets(text, tokens);
  });

  it('when the server is killed while a job holds the lock', async () => {
    const app = await boot({ redis: plainUrl('locker', PASSWORD), keyPrefix: PREFIX });
    const locks = app.get(CronLockService);
    const tokens: string[] = [];
    const lost: string[] = [];
    locks.on('lost', (event) => lost.push(event.reason));

    await locks.run('secrets.crash', { ttl: 900, scheduledAt: Date.now() }, async (ctx) => {
      tokens.push((await admin.get(`${PREFIX}:{secrets.crash}:lock`)) ?? '');
      redis.server.kill('SIGKILL');
      await waitFor(() => ctx.signal.aborted, { timeout: 10_000, message: 'lock lost' });
    });
    await app.close();
    apps.pop();
    await redis.server.restart();

    expect(lost).toEqual(['unconfirmed']);
    const text = capture!.text();
    expect(text).toMatch(/Lock of job "secrets\.crash" was lost/);
    expect(text).toMatch(/secrets\.crash.*lock store error on release/);
    expectNoSecrets(text, tokens);
  });
});
