import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockService,
  LOCK_USER_COMMANDS,
  cronLockAclRule,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { waitFor } from '../support/redis.js';
import { bootApp, runOnce } from './support/app.js';
import { startInstance, urlOf } from '../dashboard/support/fleet.js';
import { startCapture, type Capture } from './support/capture.js';

/** Commands the store and ioredis send themselves (not from inside a script). */
const CLIENT_COMMANDS = [
  'evalsha',
  'eval',
  'ping',
  'info',
  'cluster|slots',
  'cluster|info',
  'publish',
  'subscribe',
];
const ACL_SECTION = "see docs/deploying.md, 'A least-privilege ACL user'";
const PASSWORD = 'acl-test-Pa55word-7f3e';

let server: RedisServerHandle;
let admin: Redis;
let capture: Capture;
const apps: TestingModule[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url);
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  capture?.stop();
});

/** Creates (or redefines) an ACL user with exactly `rules`. */
async function createUser(user: string, rules: string): Promise<string> {
  await admin.call('ACL', 'SETUSER', user, 'reset', 'on', `>${PASSWORD}`, ...rules.split(' '));
  return `redis://${user}:${PASSWORD}@127.0.0.1:${server.port}`;
}

async function boot(options: Omit<CronLockModuleOptions, 'logger'>): Promise<TestingModule> {
  capture = startCapture();
  const app = await bootApp({ ...options, logger: capture.logger });
  apps.push(app);
  return app;
}

/** `ACL LOG` entries of one user (denied commands, keys, channels or logins). */
async function deniedFor(user: string): Promise<string[]> {
  const entries = (await admin.call('ACL', 'LOG', '1000')) as unknown[][];
  return entries
    .map((entry) => {
      const fields: Record<string, unknown> = {};
      for (let i = 0; i < entry.length; i += 2) fields[String(entry[i])] = entry[i + 1];
      return fields;
    })
    .filter((fields) => fields.username === user)
    .map((fields) => `${String(fields.reason)}: ${String(fields.object)}`);
}

/** Every command the Lua scripts call, read from their sources. */
function scriptCommands(): Set<string> {
  const dir = join(import.meta.dirname, '../../lib/stores/redis');
  const commands = new Set<string>();
  for (const file of readdirSync(dir).filter((entry) => entry.endsWith('.ts'))) {
    const source = readFileSync(join(dir, file), 'utf8');
    for (const match of source.matchAll(/redis\.p?call\(\s*['"]([A-Za-z]+)['"]/g)) {
      commands.add(match[1].toLowerCase());
    }
  }
  return commands;
}

describe('the least-privilege ACL rule', () => {
  it('lists exactly the commands the scripts call, plus what the client sends', () => {
    const fromScripts = scriptCommands();

    expect(fromScripts.size).toBeGreaterThan(5);
    expect(new Set(LOCK_USER_COMMANDS)).toEqual(new Set([...CLIENT_COMMANDS, ...fromScripts]));
  });

  it('is the line the deploying guide shows', () => {
    const guide = readFileSync(join(import.meta.dirname, '../../docs/deploying.md'), 'utf8');
    const line = guide.split('\n').find((text) => text.startsWith('ACL SETUSER cron-lock on >'));

    expect(line, 'docs/deploying.md line "ACL SETUSER cron-lock on >…"').toBeDefined();
    expect(line!.replace(/^ACL SETUSER cron-lock on >\S+ /, '')).toBe(cronLockAclRule('cron-lock'));
    expect(cronLockAclRule('billing.prod')).toMatch(
      /^resetkeys ~billing\.prod:\* resetchannels &billing\.prod:triggers -@all \+evalsha /,
    );
  });

  it('lets the whole module work: ping, acquire, renew, release, inspect, pause, history, NOSCRIPT fallback', async () => {
    const url = await createUser('locker', cronLockAclRule('acl-ok'));
    await admin.call('ACL', 'LOG', 'RESET');
    const app = await boot({ redis: url, keyPrefix: 'acl-ok' });
    const locks = app.get(CronLockService);
    const renewed: number[] = [];
    locks.on('renewed', (event) => renewed.push(event.ttl));

    // acquire, renew (ttl 600 ms renews about every 200 ms), release
    const long = await locks.run('acl.long', { ttl: 600, scheduledAt: Date.now() }, () =>
      waitFor(() => renewed.length >= 2, { timeout: 10_000, message: 'two renewals' }),
    );
    // after SCRIPT FLUSH the store falls back to EVAL
    await admin.script('FLUSH');
    const afterFlush = await runOnce(app, 'acl.flushed');
    const inspected = await locks.inspect('acl.long');
    // Fleet control: pause (claimed by a paused acquisition), resume, the history of it all.
    await locks.pause('acl.long', { reason: 'acl' });
    const paused = await locks.run('acl.long', { ttl: 600, scheduledAt: Date.now() }, () => 0);
    expect(await locks.resume('acl.long')).toBe(true);
    const history = await locks.history('acl.long');

    expect(capture.at('log').join('\n')).toContain('Lock store ready (redis');
    expect(long.ran).toBe(true);
    expect(afterFlush).toEqual({ ran: true, storeErrors: [] });
    expect(inspected.fencingToken).toBe(long.ran ? long.ctx.fencingToken : -1);
    expect(inspected.lastTick).not.toBeNull();
    expect(inspected.holder).toBeNull();
    expect(await admin.exists('acl-ok:{acl.long}:lock')).toBe(0);
    expect(paused).toEqual({ ran: false, reason: 'paused' });
    expect(history.map((entry) => entry.kind)).toEqual(['paused', 'run']);
    expect(capture.at('error')).toEqual([]);
    expect(capture.text()).not.toContain('Skipping the ready check');
    // The one refusal: the startup check's CONFIG GET, left out of the rule on purpose.
    expect(await deniedFor('locker')).toEqual(['command: config|get']);
  });

  it('fails closed when EVALSHA is missing, naming the permission and the fix', async () => {
    const url = await createUser('no-evalsha', `${cronLockAclRule('acl-evalsha')} -evalsha`);
    const app = await boot({ redis: url, keyPrefix: 'acl-evalsha' });
    let ran = false;

    const result = await runOnce(app, 'acl.job', () => (ran = true));

    expect(ran).toBe(false);
    expect(result.reason).toBe('store-error');
    expect(result.storeErrors[0]).toContain(
      `Redis user lacks permission for EVALSHA: ${ACL_SECTION}`,
    );
    expect(capture.at('error').join('\n')).toContain('lacks permission for EVALSHA');
    expect(capture.text()).not.toContain(PASSWORD);
  });

  it('fails closed when a command the script runs is missing', async () => {
    const url = await createUser('no-set', `${cronLockAclRule('acl-set')} -set`);
    const app = await boot({ redis: url, keyPrefix: 'acl-set' });
    let ran = false;

    const result = await runOnce(app, 'acl.job', () => (ran = true));

    expect(ran).toBe(false);
    expect(result.reason).toBe('store-error');
    // Redis 7.0 does not name a command refused inside a script; later versions do.
    expect(result.storeErrors[0]).toMatch(
      /Redis user lacks permission for (SET|a command the lock script runs): see docs\/deploying\.md/,
    );
    expect(await deniedFor('no-set')).toContain('command: set');
  });

  it('fails closed when the key pattern does not cover the keyPrefix', async () => {
    const url = await createUser('wrong-keys', cronLockAclRule('someone-else'));
    const app = await boot({ redis: url, keyPrefix: 'acl-mine' });

    const result = await runOnce(app, 'acl.job');

    expect(result.reason).toBe('store-error');
    expect(result.storeErrors[0]).toContain(
      "Redis user may not access the lock keys (its key pattern must cover 'acl-mine:*'",
    );
    expect(result.storeErrors[0]).toContain("cronLockAclRule('acl-mine')");
  });

  it("names the key pattern with the client's own ioredis keyPrefix in front", async () => {
    // The rule written for the module's keyPrefix alone: the client's prefix puts its keys elsewhere.
    const url = await createUser('client-prefix', cronLockAclRule('acl-module'));
    const client = new Redis(url, { keyPrefix: 'acl-app:' });
    try {
      const app = await boot({ redis: client, keyPrefix: 'acl-module' });

      const result = await runOnce(app, 'acl.job');

      expect(result.reason).toBe('store-error');
      expect(result.storeErrors[0]).toContain(
        "Redis user may not access the lock keys (its key pattern must cover 'acl-app:acl-module:*'",
      );
      expect(result.storeErrors[0]).toContain("cronLockAclRule('acl-app:acl-module')");
      expect(result.storeErrors[0]).not.toContain(PASSWORD);
    } finally {
      client.disconnect();
    }
  });

  it('says at startup when PING is missing', async () => {
    const url = await createUser('no-ping', `${cronLockAclRule('acl-ping')} -ping`);
    await boot({ redis: url, keyPrefix: 'acl-ping' });

    expect(capture.at('warn').join('\n')).toContain(
      `Lock store not reachable at startup: LockStoreError: Redis user lacks permission for PING: ${ACL_SECTION}`,
    );
  });

  it("lets the dashboard show the app's jobs, though the rule gives no SCAN to list the prefix", async () => {
    const url = await createUser('dash-locker', cronLockAclRule('acl-dash'));
    const instance = await startInstance(url, 'acl-dash', 'instance-acl', { path: '/cron-lock' });
    try {
      await instance.locks.run('sync', { ttl: '5s', scheduledAt: Date.now() }, () => 'done');
      const base = `${await urlOf(instance.app)}/cron-lock`;

      const api = await fetch(`${base}/api/jobs`);
      const page = await fetch(base);

      expect(api.status).toBe(200);
      const snapshot = (await api.json()) as { jobs: Array<{ name: string }> };
      expect(snapshot.jobs.map((job) => job.name)).toEqual(['reports.yearly', 'sync']);
      expect(page.status).toBe(200);
      expect(await deniedFor('dash-locker')).toContain('command: scan');
    } finally {
      await instance.app.close();
    }
  });
});
