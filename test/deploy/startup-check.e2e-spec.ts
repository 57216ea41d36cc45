import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cronLockAclRule, type CronLockModuleOptions } from 'nestjs-cron-lock';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { waitFor } from '../support/redis.js';
import { bootApp } from './support/app.js';
import { startCapture, type Capture } from './support/capture.js';

let server: RedisServerHandle;
let admin: Redis;
let capture: Capture | undefined;
const apps: TestingModule[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url);
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  capture?.stop();
  capture = undefined;
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

async function boot(options: Omit<CronLockModuleOptions, 'logger'>): Promise<Capture> {
  capture = startCapture();
  apps.push(await bootApp({ ...options, logger: capture.logger }));
  return capture;
}

/** Lines above debug level that mention the eviction policy. */
function policyNotices(lines: Capture): string[] {
  return [...lines.at('log'), ...lines.at('warn'), ...lines.at('error')].filter((line) =>
    /maxmemory|evict/i.test(line),
  );
}

describe('startup check of maxmemory-policy', () => {
  it('says nothing beyond a debug line under noeviction', async () => {
    await admin.config('SET', 'maxmemory-policy', 'noeviction');

    const lines = await boot({ redis: server.url });

    expect(policyNotices(lines)).toEqual([]);
    expect(lines.at('debug').join('\n')).toContain(
      'Redis maxmemory-policy is noeviction: lock keys are never evicted',
    );
  });

  it('warns once under allkeys-lru, with the fix', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');

    const lines = await boot({ redis: server.url });

    const warnings = lines.at('warn').filter((line) => line.includes('maxmemory-policy'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('Redis maxmemory-policy is allkeys-lru');
    expect(warnings[0]).toContain('Fix: CONFIG SET maxmemory-policy noeviction');
  });

  it('warns under volatile-ttl too, saying every lock key has an expiry', async () => {
    await admin.config('SET', 'maxmemory-policy', 'volatile-ttl');

    const lines = await boot({ redis: server.url });

    const warnings = lines.at('warn').filter((line) => line.includes('maxmemory-policy'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('every lock key has one');
  });

  it('stays quiet when the ACL user may not run CONFIG', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    await admin.call(
      'ACL',
      'SETUSER',
      'locker',
      'reset',
      'on',
      '>pw-startup-check',
      ...cronLockAclRule('chk').split(' '),
    );

    const lines = await boot({
      redis: `redis://locker:pw-startup-check@127.0.0.1:${server.port}`,
      keyPrefix: 'chk',
    });

    expect(lines.at('log').join('\n')).toContain('Lock store ready');
    expect(policyNotices(lines)).toEqual([]);
    expect(lines.at('error')).toEqual([]);
    expect(lines.at('debug').join('\n')).toContain('eviction check skipped');
  });

  it('stays quiet when CONFIG is renamed away, as managed services do', async () => {
    const managed = await startRedisServer({
      args: ['--maxmemory-policy', 'allkeys-lru', '--rename-command', 'CONFIG', ''],
    });
    try {
      const lines = await boot({ redis: managed.url });

      expect(lines.at('log').join('\n')).toContain('Lock store ready');
      expect(policyNotices(lines)).toEqual([]);
      expect(lines.at('error')).toEqual([]);
    } finally {
      await Promise.all(apps.splice(0).map((app) => app.close()));
      await managed.stop();
    }
  });
});

describe('startup check that the server takes writes', () => {
  /**
   * Waits for a replica's first sync to end: while it loads its master's data, a command is
   * answered LOADING, not READONLY, and a boot that landed then would test something else.
   */
  async function synced(replica: RedisServerHandle): Promise<void> {
    const client = new Redis(replica.url);
    try {
      await waitFor(async () => /master_link_status:up/.test(await client.info('replication')), {
        timeout: 20_000,
        message: 'the replica in sync with its master',
      });
    } finally {
      client.disconnect();
    }
  }

  /** Boots against a server that answers but refuses writes; stops it after. */
  async function bootOn(
    args: (masterPort: number) => string[],
    settle: (refusing: RedisServerHandle) => Promise<void> = async () => undefined,
  ): Promise<Capture> {
    const refusing = await startRedisServer({ args: args(server.port) });
    try {
      await settle(refusing);
      return await boot({ redis: refusing.url });
    } finally {
      await Promise.all(apps.splice(0).map((app) => app.close()));
      await refusing.stop();
    }
  }

  it('says a read-only replica cannot take locks, with the fix, instead of "Lock store ready"', async () => {
    // Else the master waits 5 s (its default) for more replicas before it sends its data.
    await admin.config('SET', 'repl-diskless-sync-delay', '0');
    const lines = await bootOn((master) => ['--replicaof', '127.0.0.1', String(master)], synced);

    expect(lines.at('log').join('\n')).not.toContain('Lock store ready');
    const warnings = lines.at('warn').filter((line) => line.includes('cannot take locks'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('READONLY');
    expect(warnings[0]).toMatch(/Fix: .*master/);
  });

  it('says a master with min-replicas-to-write unmet cannot take locks, with the fix', async () => {
    const lines = await bootOn(() => ['--min-replicas-to-write', '1']);

    expect(lines.at('log').join('\n')).not.toContain('Lock store ready');
    const warnings = lines.at('warn').filter((line) => line.includes('cannot take locks'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('NOREPLICAS');
    expect(warnings[0]).toMatch(/Fix: .*min-replicas-to-write/);
  });

  it('says "Lock store ready" on a master that takes writes', async () => {
    const lines = await boot({ redis: server.url });

    expect(lines.at('log').join('\n')).toContain('Lock store ready');
    expect(lines.at('warn').filter((line) => line.includes('cannot take locks'))).toEqual([]);
  });
});
