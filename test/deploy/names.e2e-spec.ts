import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  RedisLockStore,
} from 'nestjs-cron-lock';
import { keySlot } from '../support/key-slot.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { bootApp } from './support/app.js';

let server: RedisServerHandle;
let admin: Redis;
const apps: TestingModule[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url);
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

async function boot(keyPrefix: string, instanceId: string): Promise<TestingModule> {
  const app = await bootApp({ redis: server.url, keyPrefix, instanceId, logger: false });
  apps.push(app);
  return app;
}

/** What `app.init()` rejects with for a @LockedCron method named `name`. */
async function bootWithLockName(name: string): Promise<unknown> {
  @Injectable()
  class ReportJobs {
    @LockedCron('0 * * * *', { ttl: '5s', name })
    nightly(): void {}
  }
  return bootApp({ store: new MemoryLockStore(), logger: false }, { providers: [ReportJobs] }).then(
    (app) => {
      apps.push(app);
      return null;
    },
    (error: unknown) => error,
  );
}

describe('lock names', () => {
  it.each([
    ['an opening brace (it would break the hash tag)', 'report{eu'],
    ['a closing brace', 'report}eu'],
    ['a hash tag of its own', '{report}'],
    ['a glob star (it would widen SCAN MATCH)', 'report*'],
    ['a glob question mark', 'report?'],
    ['a glob character class', 'report[12]'],
    ['a tab (a space is allowed: it becomes _ in the lock name)', 'daily\treport'],
    ['a newline (it would forge log lines)', 'report\nINFO fake line'],
    ['an empty name', ''],
    ['a name over 128 characters', 'r'.repeat(129)],
  ])(
    'are rejected at bootstrap when they contain %s, naming Class.method and the fix',
    async (_case, name) => {
      const error = await bootWithLockName(name);

      expect(error).toBeInstanceOf(CronLockConfigError);
      const message = (error as Error).message;
      expect(message).toContain('ReportJobs.nightly');
      expect(message).toContain(`lock name ${JSON.stringify(name)} is not allowed`);
      expect(message).toContain('Fix: use 1 to 128 characters among A-Z a-z 0-9 . _ : -');
    },
  );

  it.each([
    ['spaces', '   '],
    ['one space', ' '],
    ['a tab', '\t'],
  ])(
    'are rejected at bootstrap when present but blank (%s), naming Class.method, the option and the fix',
    async (_case, name) => {
      // '   ' passed as the lock name '___' (a space stands for '_'), and a job named by a blank
      // setting would have shared its lock with every other job so named.
      const error = await bootWithLockName(name);

      expect(error).toBeInstanceOf(CronLockConfigError);
      const message = (error as Error).message;
      expect(message).toContain(
        `ReportJobs.nightly: option name is present but ${JSON.stringify(name)}`,
      );
      expect(message).toContain(
        'Fix: set it, or leave the key out for the default ClassName.methodName',
      );
    },
  );

  it('are rejected blank by CronLockService.run and the methods taking a name', async () => {
    const locks = (await boot('names-blank', 'a')).get(CronLockService);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['run', () => locks.run('   ', {}, () => 1)],
      ['inspect', () => locks.inspect('   ')],
      ['pause', () => locks.pause('   ')],
      ['resume', () => locks.resume('   ')],
      ['trigger', () => locks.trigger('   ')],
      ['history', () => locks.history('   ')],
    ];
    for (const [method, call] of calls) {
      const attempt = call();
      await expect(attempt, method).rejects.toBeInstanceOf(CronLockConfigError);
      await expect(attempt, method).rejects.toThrow(
        `CronLockService.${method}("   "): lock name "   " is not allowed. Fix:`,
      );
    }
  });

  it.each([
    ['a $ in the class name', '$ReportJobs', '$ReportJobs.nightly', 'ReportJobs.nightly'],
    [
      'a non-ASCII letter in the class name',
      'RapportsÉté',
      'RapportsÉté.nightly',
      'RapportsEte.nightly',
    ],
    ['over 128 characters', 'R'.repeat(125), `${'R'.repeat(125)}.nightly`, 'R'.repeat(125) + '.ni'],
  ])(
    'refuse a default name (Class.method) with %s at bootstrap, saying to give the job a name',
    async (_case, className, label, suggested) => {
      // No name was written: "use 1 to 128 characters among …" told the user to change a name
      // they never gave; the way out is a { name } option.
      const Jobs = {
        [className]: class {
          nightly(): void {}
        },
      }[className]!;
      const descriptor = Object.getOwnPropertyDescriptor(Jobs.prototype, 'nightly')!;
      const decorated = LockedCron('0 * * * *', '5s')(Jobs.prototype, 'nightly', descriptor);
      Object.defineProperty(Jobs.prototype, 'nightly', decorated as PropertyDescriptor);
      Injectable()(Jobs);
      const error = await bootApp(
        { store: new MemoryLockStore(), logger: false },
        { providers: [Jobs] },
      ).then(
        (app) => {
          apps.push(app);
          return null;
        },
        (thrown: unknown) => thrown,
      );

      expect(error).toBeInstanceOf(CronLockConfigError);
      const message = (error as Error).message;
      expect(message).toContain(
        `${label}: the default lock name ${JSON.stringify(label)} (ClassName.methodName) is not allowed`,
      );
      expect(message).toContain(`Fix: give the job a { name } option of 1 to 128 characters`);
      expect(message).toContain(`{ name: '${suggested}' }`);
    },
  );

  it('accept every allowed character, up to 128 of them', async () => {
    expect(await bootWithLockName('Billing.invoices_v2:eu-west-1')).toBeNull();
    expect(await bootWithLockName('n'.repeat(128))).toBeNull();
  });

  it('are checked by CronLockService.run too', async () => {
    const app = await boot('names-run', 'a');

    await expect(app.get(CronLockService).run('bad*name', {}, () => 1)).rejects.toThrow(
      /CronLockService\.run\("bad\*name"\): lock name "bad\*name" is not allowed\. Fix:/,
    );
  });
});

describe('key prefixes', () => {
  it.each([[''], ['a b'], ['app{x}'], ['app*'], ['p'.repeat(65)]])(
    'reject %j at bootstrap',
    async (keyPrefix) => {
      await expect(bootApp({ redis: server.url, keyPrefix, logger: false })).rejects.toThrow(
        /option keyPrefix must be 1 to 64 characters among A-Z a-z 0-9 \. _ : -/,
      );
    },
  );
});

describe('key layout', () => {
  it('keeps ":" in a prefix and in a name from colliding two jobs', async () => {
    const left = new RedisLockStore(server.url, { keyPrefix: 'a', logger: false });
    const right = new RedisLockStore(server.url, { keyPrefix: 'a:b', logger: false });
    try {
      expect(left.keysOf('b:c')).toMatchObject({ lock: 'a:{b:c}:lock', state: 'a:{b:c}:state' });
      expect(right.keysOf('c')).toMatchObject({ lock: 'a:b:{c}:lock', state: 'a:b:{c}:state' });

      // Both take the same occurrence: neither sees the other's lock or marker.
      const occurrence = { ttl: 5_000, instanceId: 'x', scheduledAt: Date.UTC(2025, 0, 1) };
      const first = await left.acquire({ name: 'b:c', token: 'f'.repeat(32), ...occurrence });
      const second = await right.acquire({ name: 'c', token: 'e'.repeat(32), ...occurrence });
      expect(first.acquired).toBe(true);
      expect(second.acquired).toBe(true);
    } finally {
      await Promise.all([left.close(), right.close()]);
    }
  });

  it("puts all of a job's keys in the slot of its name, whatever the prefix", async () => {
    for (const [keyPrefix, name] of [
      ['a', 'b:c'],
      ['a:b', 'c'],
      ['production', 'Reports.hourly'],
      ['staging:eu', 'Reports.hourly'],
    ]) {
      const store = new RedisLockStore(
        { url: server.url, lazyConnect: true },
        { keyPrefix, logger: false },
      );
      const keys = store.keysOf(name);
      store.client.disconnect();

      expect(keySlot(keys.lock)).toBe(keySlot(name));
      expect(keySlot(keys.state)).toBe(keySlot(name));
      expect(keySlot(keys.history)).toBe(keySlot(name));
    }
    // The ':' separators move nothing: 'b:c' under 'a' hashes as 'b:c', not as 'c'.
    expect(keySlot('a:{b:c}:lock')).toBe(keySlot('b:c'));
    expect(keySlot('a:{b:c}:lock')).not.toBe(keySlot('a:b:{c}:lock'));
  });

  it("lets SCAN MATCH <prefix>:{*}:state find exactly one app's jobs", async () => {
    const production = await boot('scan', 'prod');
    const nested = await boot('scan:b', 'nested');
    const other = await boot('scanner', 'other');
    for (const app of [production, nested, other]) {
      for (const name of ['alpha', 'beta:1', 'gamma.x']) {
        expect(
          (await app.get(CronLockService).run(name, { scheduledAt: Date.now() }, () => 1)).ran,
        ).toBe(true);
      }
    }

    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', 'scan:{*}:state', 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');

    expect(found.sort()).toEqual([
      'scan:{alpha}:state',
      'scan:{beta:1}:state',
      'scan:{gamma.x}:state',
    ]);
  });

  it('lets staging and production share one Redis without contending', async () => {
    const production = [await boot('production', 'prod-1'), await boot('production', 'prod-2')];
    const staging = [await boot('staging', 'stage-1'), await boot('staging', 'stage-2')];
    const ranIn = { production: 0, staging: 0 };
    const start = Date.UTC(2025, 6, 1);

    for (let occurrence = 0; occurrence < 5; occurrence++) {
      const scheduledAt = start + occurrence * 60_000;
      for (const [environment, instances] of [
        ['production', production],
        ['staging', staging],
      ] as const) {
        const results = await Promise.all(
          instances.map((app) =>
            app.get(CronLockService).run('Reports.hourly', { ttl: '5s', scheduledAt }, () => 1),
          ),
        );
        // Within one environment the two instances contend: exactly one runs each occurrence.
        expect(results.filter((result) => result.ran)).toHaveLength(1);
        ranIn[environment] += 1;
      }
    }

    // Across environments nothing contends: both ran every occurrence.
    expect(ranIn).toEqual({ production: 5, staging: 5 });
  });
});
