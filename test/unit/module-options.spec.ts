import { Logger, type LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  MemoryLockStore,
  RedisLockStore,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveModuleOptions as resolveOptions } from '../../lib/options/module-options.js';
import { resolveStore } from '../../lib/stores/store-factory.js';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

/** The validated options together with the store the module's store provider builds from them. */
const resolveModuleOptions = (raw: CronLockModuleOptions) => {
  const options = resolveOptions(raw);
  return { ...options, ...resolveStore(raw, options) };
};

/** Resolves options that the type system would reject, as plain JavaScript users can pass. */
const resolveUntyped = (options: unknown) => resolveModuleOptions(options as CronLockModuleOptions);

function configErrorOf(options: unknown): CronLockConfigError {
  try {
    resolveUntyped(options);
  } catch (error) {
    expect(error).toBeInstanceOf(CronLockConfigError);
    return error as CronLockConfigError;
  }
  throw new Error(`expected ${JSON.stringify(options)} to be rejected`);
}

const silentLogger: LoggerService = {
  log: () => undefined,
  error: () => undefined,
  warn: () => undefined,
};

describe('resolveModuleOptions', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  describe('defaults', () => {
    it('fills in every default around an explicitly chosen memory store', () => {
      const store = new MemoryLockStore();
      const resolved = resolveModuleOptions({ store });
      expect(resolved.keyPrefix).toBe('cron-lock');
      expect(resolved.defaultTtl).toBe(30_000);
      expect(resolved.onStoreError).toBe('skip');
      expect(resolved.shutdownTimeout).toBe(10_000);
      expect(resolved.store).toBe(store);
      expect(resolved.storeKind).toBe('memory');
      expect(resolved.ownsStore).toBe(false);
      expect(resolved.logger).toBeInstanceOf(Logger);
      expect(resolved.instanceId).toMatch(/\S/);
    });

    it('gives each resolution its own instance id by default', () => {
      const store = new MemoryLockStore();
      expect(resolveModuleOptions({ store }).instanceId).not.toBe(
        resolveModuleOptions({ store }).instanceId,
      );
    });
  });

  describe('valid options', () => {
    it('parses durations and keeps explicit choices', () => {
      const resolved = resolveModuleOptions({
        redis: { host: '127.0.0.1', lazyConnect: true },
        keyPrefix: 'app.prod:locks-1',
        defaultTtl: '5m',
        shutdownTimeout: 0,
        onStoreError: 'run',
        logger: false,
        instanceId: 'web-1',
      });
      cleanups.push(() => resolved.store.close());
      expect(resolved).toMatchObject({
        keyPrefix: 'app.prod:locks-1',
        defaultTtl: 300_000,
        shutdownTimeout: 0,
        onStoreError: 'run',
        logger: null,
        instanceId: 'web-1',
      });
    });

    it('accepts a custom LockStore without taking ownership of it', () => {
      const store = new MemoryLockStore();
      const resolved = resolveModuleOptions({ store, logger: silentLogger });
      expect(resolved.store).toBe(store);
      expect(resolved.ownsStore).toBe(false);
      expect(resolved.storeKind).toBe('memory');
      expect(resolved.logger).toBe(silentLogger);
    });

    it('builds a Redis store that owns the client it creates from a URL', async () => {
      const resolved = resolveModuleOptions({
        redis: testRedisUrl(),
        keyPrefix: uniquePrefix('opts'),
        logger: false,
      });
      expect(resolved.store).toBeInstanceOf(RedisLockStore);
      expect(resolved.storeKind).toBe('redis');
      expect(resolved.ownsStore).toBe(true);
      expect(await resolved.store.ping()).toBeGreaterThanOrEqual(0);
      await resolved.store.close();
      const client = (resolved.store as RedisLockStore).client;
      await waitFor(() => client.status === 'end', { message: 'the owned client to end' });
    });

    it('accepts an existing ioredis client (lazyConnect, never connected) and never closes it', async () => {
      const client = new Redis(testRedisUrl(), { lazyConnect: true });
      cleanups.push(async () => client.disconnect());
      const resolved = resolveModuleOptions({ redis: client, logger: false });
      expect(resolved.store).toBeInstanceOf(RedisLockStore);
      expect((resolved.store as RedisLockStore).client).toBe(client);
      expect(client.status).toBe('wait');

      await resolved.store.close();
      expect(client.status).toBe('wait');
      expect(await client.ping()).toBe('PONG');
    });
  });

  describe('the store is always chosen explicitly (never a silent in-memory fallback)', () => {
    it.each<[string, Record<string, unknown>]>([
      ['redis: undefined (an unset environment variable)', { redis: undefined }],
      ['redis: null', { redis: null }],
      ["redis: ''", { redis: '' }],
      ["redis: '   '", { redis: '   ' }],
    ])(
      'rejects %s, naming redis and the in-memory store as the explicit choice',
      (_label, options) => {
        const error = configErrorOf({ logger: false, ...options });
        expect(error.message).toContain('option redis');
        expect(error.message).toContain('REDIS_URL');
        expect(error.message).toContain('new MemoryLockStore()');
        expect(error.message).toContain('Fix:');
      },
    );

    it('rejects options with neither redis nor store, naming both', () => {
      for (const options of [{}, { logger: false }]) {
        const error = configErrorOf(options);
        expect(error.message).toContain('redis');
        expect(error.message).toContain('store: new MemoryLockStore()');
        expect(error.message).toContain('Fix:');
      }
    });

    // ioredis falls back to a server on the local host when nothing names one: on a fleet whose
    // REDIS_URL is unset, each instance would lock in a Redis of its own (or none).
    it.each<[string, unknown]>([
      ['{}', {}],
      ['{ url: undefined }', { url: undefined }],
      ["'redis://'", 'redis://'],
    ])('fails app.init() for redis: %s instead of connecting to localhost', async (_l, redis) => {
      const error = await Test.createTestingModule({
        imports: [CronLockModule.forRoot({ redis: redis as never, logger: false })],
      })
        .compile()
        .then((moduleRef) => moduleRef.close())
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toContain('option redis');
      expect((error as Error).message).toContain('Fix:');
    });

    it.each<[string, unknown]>([
      ['{ url: null }', { url: null }],
      ["{ url: '' }", { url: '' }],
      ["{ url: '  ' }", { url: '  ' }],
      ["{ url: 'redis://' }", { url: 'redis://' }],
      ["{ url: 'rediss:///0' }", { url: 'rediss:///0' }],
      // A port alone (REDIS_PORT set, REDIS_HOST not): no server is ever contacted here.
      ['{ port } alone', { port: 0 }],
      ["{ host: '' }", { host: '' }],
      ['{ host: undefined }', { host: undefined }],
      ['{ path: undefined }', { path: undefined }],
      ['{ sentinels: [] }', { sentinels: [], name: 'mymaster' }],
      ["'redis:///0'", 'redis:///0'],
      ["'rediss://'", 'rediss://'],
      ["'redis://:hunter2pw@'", 'redis://:hunter2pw@'],
      ["'redis://:hunter2pw@/0'", 'redis://:hunter2pw@/0'],
    ])('rejects redis: %s, which names no server, without echoing a password', (_l, redis) => {
      const error = configErrorOf({ redis, logger: false });
      expect(error.message).toContain('option redis');
      expect(error.message).toContain('Fix:');
      expect(error.message).not.toContain('hunter2pw');
    });

    it.each<[string, unknown]>([
      ["{ host: 'x', port: 1 }", { host: 'redis.internal', port: 1 }],
      ["{ path: '/sock' }", { path: '/var/run/redis.sock' }],
      ['sentinel options', { sentinels: [{ host: 'sentinel-1', port: 26379 }], name: 'mymaster' }],
      ["{ url: 'rediss://…', tls }", { url: 'rediss://cache.example:6380', tls: {} }],
      ["'rediss://host'", 'rediss://:pw@cache.example:6380/2'],
      ["'redis://[::1]'", 'redis://[::1]:6379'],
      ["'redis://?host=…'", 'redis://?host=redis.internal'],
    ])('accepts redis: %s, which names its server', (_l, redis) => {
      expect(() =>
        resolveOptions({ redis: redis as CronLockModuleOptions['redis'], logger: false }),
      ).not.toThrow();
    });

    it('uses the in-memory store when it is passed explicitly', () => {
      const store = new MemoryLockStore();
      expect(resolveModuleOptions({ store, logger: false }).store).toBe(store);
    });
  });

  describe('invalid options fail with a CronLockConfigError that names the option and the fix', () => {
    it.each<[string, Record<string, unknown>]>([
      ['keyPrefix', { keyPrefix: '' }],
      ['keyPrefix', { keyPrefix: 'has space' }],
      ['keyPrefix', { keyPrefix: '{braces}' }],
      ['keyPrefix', { keyPrefix: 'glob*' }],
      ['keyPrefix', { keyPrefix: 'x'.repeat(65) }],
      ['keyPrefix', { keyPrefix: 42 }],
      ['defaultTtl', { defaultTtl: 0 }],
      ['defaultTtl', { defaultTtl: -1 }],
      ['defaultTtl', { defaultTtl: 'soon' }],
      ['defaultTtl', { defaultTtl: Number.NaN }],
      ['shutdownTimeout', { shutdownTimeout: -5 }],
      ['shutdownTimeout', { shutdownTimeout: '10 seconds' }],
      ['shutdownTimeout', { shutdownTimeout: Number.POSITIVE_INFINITY }],
      ['onStoreError', { onStoreError: 'fail' }],
      ['onStoreError', { onStoreError: true }],
      ['logger', { logger: {} }],
      ['logger', { logger: 'console' }],
      ['logger', { logger: true }],
      ['instanceId', { instanceId: '' }],
      ['instanceId', { instanceId: 'x'.repeat(201) }],
      ['instanceId', { instanceId: 7 }],
      ['store', { store: {} }],
      ['store', { store: { acquire: () => undefined } }],
      ['redis', { redis: 42 }],
      ['redis', { redis: null }],
      ['redis', { redis: ['redis://localhost'] }],
      ['redis', { redis: 'localhost' }],
      ['redis', { redis: 'http://localhost' }],
    ])('rejects %s in %o', (option, options) => {
      const error = configErrorOf({ logger: false, ...options });
      expect(error.message).toContain(option);
      expect(error.message).toContain('Fix:');
    });

    it('rejects keyPrefix together with store, which would silently ignore it', () => {
      const store = new RedisLockStore(new Redis(testRedisUrl(), { lazyConnect: true }), {
        logger: false,
      });
      cleanups.push(async () => (store.client as Redis).disconnect());
      for (const keyPrefix of ['app-a', 'cron-lock']) {
        const error = configErrorOf({ store, keyPrefix, logger: false });
        expect(error.message).toContain('option keyPrefix');
        expect(error.message).toContain('store');
        expect(error.message).toContain('new RedisLockStore(redis, { keyPrefix })');
        expect(error.message).toContain('Fix:');
      }
    });

    it.each([undefined, null])(
      'rejects keyPrefix: %s (an unset variable) instead of defaulting',
      (keyPrefix) => {
        const error = configErrorOf({
          redis: { host: '127.0.0.1', lazyConnect: true },
          keyPrefix,
          logger: false,
        });
        expect(error.message).toContain('option keyPrefix');
        expect(error.message).toContain('Fix:');
      },
    );

    describe('a present but empty option is an error, never its default', () => {
      /** What compiling and starting an app with these module options threw, if anything. */
      async function bootstrapErrorOf(options: Record<string, unknown>): Promise<unknown> {
        return Test.createTestingModule({
          imports: [CronLockModule.forRoot(options as never)],
        })
          .compile()
          .then(async (moduleRef) => {
            await moduleRef.init();
            await moduleRef.close();
          })
          .then(
            () => undefined,
            (error: unknown) => error,
          );
      }

      // `config.get('X')` of an unset variable in a forRootAsync factory gives undefined; a YAML
      // or JSON config gives null. Either way the operator set the key and meant a value.
      it.each<[string, unknown]>([
        ['instanceId', '   '],
        ['instanceId', undefined],
        ['instanceId', null],
        ['defaultTtl', undefined],
        ['defaultTtl', null],
        ['shutdownTimeout', undefined],
        ['shutdownTimeout', null],
        ['onStoreError', undefined],
        ['onStoreError', null],
        ['logger', undefined],
        ['logger', null],
        ['alerts', undefined],
        ['alerts', null],
        ['asyncContext', undefined],
        ['asyncContext', null],
        ['logLevels', undefined],
        ['logLevels', null],
        ['historySize', undefined],
      ])('fails app.init() for %s: %j, naming the option and the fix', async (key, value) => {
        const error = await bootstrapErrorOf({ store: new MemoryLockStore(), [key]: value });
        expect(error).toBeInstanceOf(CronLockConfigError);
        expect((error as Error).message).toContain(`CronLockModule: option ${key}`);
        expect((error as Error).message).toContain('Fix:');
      });

      // Written into every log line, the store's holder, history entries, events, the CLI's
      // tables and the dashboard: a line break there splits or forges a line, an escape drives
      // the terminal of whoever reads `status`. An id read from a file keeps its newline.
      it.each<[string, string]>([
        ['a trailing newline (a file read without trim())', 'pod-7f9c\n'],
        ['a carriage return', 'pod-7f9c\r\n'],
        ['a tab', 'web\t1'],
        ['a terminal escape', 'web-1\u001b[2K'],
        ['DEL', 'web-1\u007f'],
        ['NEL, a C1 line break', 'web-1\u0085forged'],
        ['a Unicode line separator', 'web-1\u2028forged'],
        ['a right-to-left override', 'web-\u202e1-bew\u202c'],
        ['a left-to-right isolate', 'web-\u20661\u2069'],
      ])('fails app.init() for an instanceId with %s, naming it and the fix', async (_what, id) => {
        const error = await bootstrapErrorOf({ store: new MemoryLockStore(), instanceId: id });
        expect(error).toBeInstanceOf(CronLockConfigError);
        const message = (error as Error).message;
        expect(message).toContain('CronLockModule: option instanceId');
        expect(message).toContain("readFileSync('/etc/hostname', 'utf8').trim()");
        expect(message).toContain('Fix:');
        // The message quotes the id escaped: it must not carry what it refuses.
        expect(message).not.toMatch(
          // eslint-disable-next-line no-control-regex -- control characters are what is checked
          /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/,
        );
      });

      // Two environment variables swapped (INSTANCE_ID and REDIS_URL): the id is written into the
      // same places, so an accepted connection string would print its password in all of them.
      it.each<[string, string, string]>([
        [
          'a password',
          'redis://default:s3cret-pw@redis.internal:6379',
          'redis://default:***@redis.internal:6379',
        ],
        [
          'a password with an @ in it',
          'postgres://jobs:s3cret@pw@db.internal:5432/app',
          'postgres://jobs:***@db.internal:5432/app',
        ],
        ['a user name', 'redis://s3cret-user@redis.internal', 'redis://***@redis.internal'],
        [
          'a password in its query string',
          'redis://redis.internal:6379/0?password=s3cret-pw',
          'redis://redis.internal:6379/0?password=***',
        ],
      ])(
        'fails app.init() for an instanceId that is a connection string with %s, quoting it redacted',
        async (_what, id, redacted) => {
          const error = await bootstrapErrorOf({ store: new MemoryLockStore(), instanceId: id });
          expect(error).toBeInstanceOf(CronLockConfigError);
          const message = (error as Error).message;
          expect(message).toContain('CronLockModule: option instanceId');
          expect(message).toContain(JSON.stringify(redacted));
          expect(message).toContain('looks like a connection string');
          expect(message).toContain('Fix: set instanceId to a name, e.g. the pod name');
          expect(message).not.toContain('s3cret');
        },
      );

      it('fails app.init() for such an instanceId from a forRootAsync factory too', async () => {
        const env = { INSTANCE_ID: 'redis://default:s3cret-pw@redis.internal:6379' };
        const error = await Test.createTestingModule({
          imports: [
            CronLockModule.forRootAsync({
              useFactory: () => ({ store: new MemoryLockStore(), instanceId: env.INSTANCE_ID }),
            }),
          ],
        })
          .compile()
          .then((moduleRef) => moduleRef.init().finally(() => moduleRef.close()))
          .then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
        expect(error).toBeInstanceOf(CronLockConfigError);
        expect((error as Error).message).toContain('"redis://default:***@redis.internal:6379"');
        expect((error as Error).message).not.toContain('s3cret');
      });

      it.each(['web-1@eu-west', 'https://ops.example/pods/web-1', 'redis.internal:6379'])(
        'still starts with an instanceId that holds no credentials: %s',
        async (id) => {
          const moduleRef = await Test.createTestingModule({
            imports: [
              CronLockModule.forRoot({
                store: new MemoryLockStore(),
                logger: false,
                instanceId: id,
              }),
            ],
          }).compile();
          await moduleRef.init();
          cleanups.push(() => moduleRef.close());
          expect(moduleRef.get(CronLockService).instanceId).toBe(id);
        },
      );

      it.each(['missedPeriods', 'storeFailures'])(
        'rejects alerts.%s: undefined instead of its default threshold',
        (key) => {
          const error = configErrorOf({
            store: new MemoryLockStore(),
            logger: false,
            alerts: { [key]: undefined },
          });
          expect(error.message).toContain(`option alerts.${key}`);
          expect(error.message).toContain('Fix:');
        },
      );

      it('still fills in the defaults of options left out', async () => {
        expect(await bootstrapErrorOf({ store: new MemoryLockStore(), logger: false })).toBe(
          undefined,
        );
        expect(
          resolveModuleOptions({ store: new MemoryLockStore(), alerts: {}, logLevels: {} }),
        ).toMatchObject({ alerts: { missedPeriods: 3, storeFailures: 3 } });
      });
    });

    it.each<[string, Record<string, unknown>]>([
      ['defaultTtl', { defaultTtl: '30d' }],
      ['defaultTtl', { defaultTtl: 2 ** 31 }],
      ['shutdownTimeout', { shutdownTimeout: '25d' }],
      ['shutdownTimeout', { shutdownTimeout: 1e15 }],
    ])('rejects %s in %o, past what a timer holds, naming the limit', (option, options) => {
      const error = configErrorOf({ store: new MemoryLockStore(), logger: false, ...options });
      expect(error.message).toContain(`option ${option}`);
      expect(error.message).toContain('2147483647ms');
      expect(error.message).toContain('Fix:');
    });

    it('accepts durations up to 2 ** 31 - 1 ms', () => {
      const resolved = resolveModuleOptions({
        store: new MemoryLockStore(),
        logger: false,
        defaultTtl: 2 ** 31 - 1,
        shutdownTimeout: '24d',
      });
      expect(resolved).toMatchObject({ defaultTtl: 2 ** 31 - 1, shutdownTimeout: 24 * 86_400_000 });
    });

    it('rejects an unknown option, naming it', () => {
      const error = configErrorOf({ ttl: '30s' });
      expect(error.message).toContain('ttl');
      expect(error.message).toContain('unknown option');
      expect(error.message).toContain('Fix:');
    });

    it.each<[string, string]>([
      ['keyprefix', 'keyPrefix'],
      ['defaultTTL', 'defaultTtl'],
      ['shutdownTimout', 'shutdownTimeout'],
      ['redsi', 'redis'],
    ])('suggests the option a misspelt %s meant', (key, suggestion) => {
      const error = configErrorOf({ store: new MemoryLockStore(), [key]: 'x' });
      expect(error.message).toContain(`did you mean ${suggestion}?`);
    });

    it('rejects options that are not an object', () => {
      for (const options of ['redis://localhost', 42, [], true]) {
        const error = configErrorOf(options);
        expect(error.message).toContain('Fix:');
      }
    });

    it('rejects redis and store together', () => {
      const error = configErrorOf({ redis: testRedisUrl(), store: new MemoryLockStore() });
      expect(error.message).toContain('redis');
      expect(error.message).toContain('store');
      expect(error.message).toContain('exclusive');
      expect(error.message).toContain('Fix:');
    });

    it.each([
      'http://admin:hunter2pw@cache.internal:6379',
      'redis//admin:hunter2pw@cache.internal:6379',
      'redis:/admin:hunter2pw@cache.internal:6379',
      'admin:hunter2pw@cache.internal:6379',
      'mysql://:hunter2pw@cache.internal',
      'http://admin:hunter2pw@secret@cache.internal',
    ])('rejects the bad redis URL %s without echoing its password', (url) => {
      const error = configErrorOf({ redis: url });
      expect(error.message).toContain('redis');
      expect(error.message).toContain('Fix:');
      expect(error.message).not.toContain('hunter2pw');
      expect(String(error.stack)).not.toContain('hunter2pw');
    });

    // Nest's LoggerService requires warn: the lines it carries (a run without a lock, missed
    // occurrences, a store unreachable at startup, a job outliving shutdownTimeout) must not be
    // dropped without a word because an adapter written in plain JavaScript left it out.
    it('fails app.init() for a logger without warn, naming the option and the missing method', async () => {
      const lines: string[] = [];
      const withoutWarn = {
        log: (message: string) => lines.push(message),
        error: (message: string) => lines.push(message),
      };
      let app: TestingModule | undefined;
      // compile() or init(): wherever Nest builds the options, the app must not boot.
      const failure = await (async () => {
        app = await Test.createTestingModule({
          imports: [
            CronLockModule.forRoot({
              store: new MemoryLockStore(),
              logger: withoutWarn as unknown as LoggerService,
            }),
          ],
        }).compile();
        await app.init();
      })().then(
        () => undefined,
        (error: unknown) => error,
      );
      await app?.close();
      expect(failure).toBeInstanceOf(CronLockConfigError);
      const message = (failure as Error).message;
      expect(message).toContain('option logger');
      expect(message).toContain('warn');
      expect(message).toContain('Fix:');
      expect(lines).toEqual([]);
    });

    it('boots with a logger that has log, error and warn only, and writes its warn lines to it', async () => {
      const warnings: string[] = [];
      const minimal: LoggerService = {
        log: () => undefined,
        error: () => undefined,
        warn: (message: string) => warnings.push(message),
      };
      const app = await Test.createTestingModule({
        imports: [CronLockModule.forRoot({ store: new MemoryLockStore(), logger: minimal })],
      }).compile();
      await app.init();
      await app.close();
      expect(warnings.some((line) => line.includes('in-memory lock store'))).toBe(true);
    });
  });
});
