import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockService,
  LOCK_CLIENT_DEFAULTS,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';
import { waitFor } from '../support/redis.js';
import { bootApp, runOnce } from './support/app.js';
import { startCapture, type Capture } from './support/capture.js';
import {
  makeTestCertificates,
  startTlsRedisServer,
  type TestCertificates,
  type TlsRedisServer,
} from './support/tls-certs.js';

const VERIFICATION_OFF = 'certificate verification is OFF';

let certs: TestCertificates;
let redis: TlsRedisServer;
const apps: TestingModule[] = [];
const clients: Redis[] = [];
let capture: Capture;

beforeAll(async () => {
  certs = makeTestCertificates();
  redis = await startTlsRedisServer(certs);
});

afterAll(async () => {
  await redis?.server.stop();
  certs?.remove();
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  clients.splice(0).forEach((client) => client.disconnect());
  capture?.stop();
});

async function boot(options: Omit<CronLockModuleOptions, 'logger'>): Promise<TestingModule> {
  capture = startCapture();
  const app = await bootApp({ ...options, logger: capture.logger });
  apps.push(app);
  return app;
}

describe('TLS (rediss://)', () => {
  it('runs jobs over TLS when tls.ca trusts the server certificate, without a warning', async () => {
    const app = await boot({ redis: { url: redis.tlsUrl, tls: { ca: certs.ca } } });

    const first = await runOnce(app, 'tls.verified');
    const second = await runOnce(app, 'tls.verified-2');

    expect(first).toEqual({ ran: true, storeErrors: [] });
    expect(second).toEqual({ ran: true, storeErrors: [] });
    expect(capture.at('log').join('\n')).toContain('Lock store ready (redis');
    expect(capture.text()).not.toContain(VERIFICATION_OFF);
  });

  it('accepts the CA as a Buffer read from a file', async () => {
    const app = await boot({
      redis: { url: redis.tlsUrl, tls: { ca: readFileSync(certs.caFile) } },
    });

    expect((await runOnce(app, 'tls.buffer-ca')).ran).toBe(true);
  });

  it('refuses a self-signed certificate it cannot verify, and the store error says why and the fix', async () => {
    const app = await boot({ redis: redis.tlsUrl });

    const result = await runOnce(app, 'tls.untrusted');

    expect(result.ran).toBe(false);
    expect(result.reason).toBe('store-error');
    expect(result.storeErrors).toHaveLength(1);
    const [message] = result.storeErrors;
    expect(message).toContain('Redis TLS certificate not trusted');
    expect(message).toContain('SELF_SIGNED_CERT_IN_CHAIN');
    expect(message).toContain('redis.tls.ca');
    expect(message).toContain('rejectUnauthorized: false');
    // The connection warning says it too, once per outage.
    const connectionWarnings = capture
      .at('warn')
      .filter((line) => line.startsWith('Redis connection error'));
    expect(connectionWarnings).toHaveLength(1);
    expect(connectionWarnings[0]).toContain('Fix: pass the CA as redis.tls.ca');
  });

  it('connects with tls.rejectUnauthorized: false and warns once that verification is off', async () => {
    const app = await boot({ redis: { url: redis.tlsUrl, tls: { rejectUnauthorized: false } } });

    for (let i = 0; i < 3; i++) {
      expect((await runOnce(app, `tls.opt-out-${i}`)).ran).toBe(true);
    }
    await app.get(CronLockService).inspect('tls.opt-out-0');

    const warnings = capture.at('warn').filter((line) => line.includes(VERIFICATION_OFF));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('tls.ca');
  });

  it('warns once for a client passed in whose options turn verification off, and leaves it open', async () => {
    const client = new Redis(redis.tlsUrl, {
      ...LOCK_CLIENT_DEFAULTS,
      tls: { rejectUnauthorized: false },
      lazyConnect: false,
    });
    clients.push(client);
    await waitFor(() => client.status === 'ready', { message: 'client ready' });
    const app = await boot({ redis: client });

    expect((await runOnce(app, 'tls.client-opt-out')).ran).toBe(true);
    await app.close();
    apps.splice(apps.indexOf(app), 1);

    expect(capture.at('warn').filter((line) => line.includes(VERIFICATION_OFF))).toHaveLength(1);
    expect(await client.ping()).toBe('PONG');
  });

  it('says when the certificate does not name the host it was reached by', async () => {
    const app = await boot({
      redis: { url: redis.tlsUrl, tls: { ca: certs.ca, servername: 'elsewhere.example' } },
    });

    const result = await runOnce(app, 'tls.wrong-host');

    expect(result.reason).toBe('store-error');
    expect(result.storeErrors.join('\n')).toContain(
      'Redis TLS certificate is not valid for this host name',
    );
  });

  it('never reads or sets NODE_TLS_REJECT_UNAUTHORIZED', () => {
    const libDir = join(import.meta.dirname, '../../lib');
    const files = (function walk(dir: string): string[] {
      return readdirSync(dir).flatMap((entry) => {
        const path = join(dir, entry);
        return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
      });
    })(libDir);

    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      expect(readFileSync(file, 'utf8'), file).not.toContain('NODE_TLS_REJECT_UNAUTHORIZED');
    }
  });
});

describe('TLS options are validated at bootstrap', () => {
  it.each([
    [
      'tls on a plain redis:// URL',
      { url: 'redis://127.0.0.1:6379', tls: { rejectUnauthorized: false } },
      /redis\.tls is set but redis\.url is a plain redis:\/\/ URL.*Fix: use the rediss:\/\//,
    ],
    [
      'a CA file path in place of its contents',
      { url: 'rediss://127.0.0.1:6379', tls: { ca: '/etc/ssl/redis-ca.pem' } },
      /redis\.tls\.ca must be the CA certificate's PEM text or a Buffer.*not a file path/,
    ],
    [
      'rejectUnauthorized as a string',
      { url: 'rediss://127.0.0.1:6379', tls: { rejectUnauthorized: 'false' } },
      /redis\.tls\.rejectUnauthorized must be true or false/,
    ],
    [
      'a url that is not a Redis URL, with its password hidden',
      { url: 'https://user:hunter2-secret@example.com:6379' },
      /redis\.url must be a redis:\/\/ or rediss:\/\/ URL, got "https:\/\/\*\*\*@example\.com:6379"/,
    ],
  ])('rejects %s', async (_case, redisOption, expected) => {
    const error = await bootApp({
      redis: redisOption as CronLockModuleOptions['redis'],
      logger: false,
    }).then(
      () => null,
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('CronLockConfigError');
    expect((error as Error).message).toMatch(expected);
    expect((error as Error).message).not.toContain('hunter2-secret');
  });
});
