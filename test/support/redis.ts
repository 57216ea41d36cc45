import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { inject } from 'vitest';

/** URL of the Redis server for this test run (set up by test/support/global-setup.ts). */
export function testRedisUrl(): string {
  const url = inject('redisUrl') ?? process.env.CRON_LOCK_TEST_REDIS_URL;
  if (!url) {
    throw new Error(
      'No test Redis URL: run the tests through `npm test` (the Vitest globalSetup starts a ' +
        'redis-server or uses REDIS_URL).',
    );
  }
  return url;
}

/** A key prefix unique to one test, e.g. `t-renewal-3f9a1c2b`, so tests never share keys. */
export function uniquePrefix(label = 'test'): string {
  const safe = label.replace(/[^A-Za-z0-9._:-]+/g, '-').slice(0, 40) || 'test';
  return `t-${safe}-${randomBytes(4).toString('hex')}`;
}

/**
 * A fresh ioredis client on the test server, for assertions. Close it (`await client.quit()`)
 * in afterEach/afterAll.
 */
export function newRedisClient(options: RedisOptions = {}): Redis {
  return new Redis(testRedisUrl(), { lazyConnect: false, maxRetriesPerRequest: 1, ...options });
}

export interface WaitForOptions {
  /** Give up after this many ms. Default 5000. */
  timeout?: number;
  /** Poll every this many ms. Default 20. */
  interval?: number;
  /** Describes what was awaited, for the timeout error. */
  message?: string;
}

/**
 * Polls `predicate` until it returns a truthy value (which is returned) or the deadline passes.
 * Exceptions thrown by the predicate count as "not yet"; the last one is reported on timeout.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  { timeout = 5_000, interval = 20, message }: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`waitFor timed out after ${timeout} ms: ${message ?? 'condition'}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
