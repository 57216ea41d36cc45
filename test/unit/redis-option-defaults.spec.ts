// ioredis options for the client the module (or a store) creates, with a setting the lock
// defaults fill in present but undefined, as `config.get('REDIS_COMMAND_TIMEOUT')` gives with the
// variable unset: the spread over LOCK_CLIENT_DEFAULTS put ioredis' own default back (no command
// timeout, an offline queue, 20 retries, resent commands), the very settings the lock defaults
// rule out, without a word.
import { Test } from '@nestjs/testing';
import type { RedisOptions } from 'ioredis';
import {
  CronLockConfigError,
  CronLockModule,
  LOCK_CLIENT_DEFAULTS,
  RedisLockStore,
} from 'nestjs-cron-lock';
import { describe, expect, it } from 'vitest';
import { testRedisUrl } from '../support/redis.js';

/** Every setting the lock defaults give a value of their own, and `lazyConnect` the module sets. */
const DEFAULTED = [...Object.keys(LOCK_CLIENT_DEFAULTS), 'lazyConnect'];

async function initError(redis: unknown): Promise<unknown> {
  return Test.createTestingModule({
    imports: [CronLockModule.forRoot({ redis: redis as never, logger: false })],
  })
    .compile()
    .then(async (moduleRef) => {
      await moduleRef.init();
      await moduleRef.close();
    })
    .then(
      () => undefined,
      (caught: unknown) => caught,
    );
}

describe('ioredis options with a lock default present but undefined', () => {
  it.each(DEFAULTED)('fails app.init() for redis: { url, %s: undefined }', async (key) => {
    const error = await initError({ url: testRedisUrl(), [key]: undefined });

    expect(error).toBeInstanceOf(CronLockConfigError);
    expect((error as Error).message).toMatch(
      new RegExp(`^CronLockModule: option redis\\.${key} is undefined.*Fix: `),
    );
  });

  it.each(DEFAULTED)('refuses new RedisLockStore({ host, %s: undefined })', (key) => {
    expect(
      () => new RedisLockStore({ host: '127.0.0.1', port: 1, [key]: undefined }, { logger: false }),
    ).toThrow(new RegExp(`^RedisLockStore: argument redis\\.${key} is undefined.*Fix: `));
  });

  it('still takes a value set on purpose, null included (maxRetriesPerRequest: null retries forever)', async () => {
    const store = new RedisLockStore(
      { url: testRedisUrl(), maxRetriesPerRequest: null, commandTimeout: 500 },
      { logger: false },
    );
    const options = store.client.options as RedisOptions;
    expect(options.maxRetriesPerRequest).toBeNull();
    expect(options.commandTimeout).toBe(500);
    expect(options.enableOfflineQueue).toBe(false);
    expect(await store.ping()).toBeGreaterThanOrEqual(0);
    await store.close();
  });
});
