import type { TestProject } from 'vitest/node';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the Redis server the test run uses (REDIS_URL, or a private redis-server). */
    redisUrl: string;
  }
}

/** Environment variable through which forked child processes inherit the test Redis URL. */
export const TEST_REDIS_URL_ENV = 'CRON_LOCK_TEST_REDIS_URL';

let server: RedisServerHandle | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let url = process.env.REDIS_URL;
  if (url) {
    // Never print the URL itself: it may carry a password.
    console.log('[test] using the Redis server from REDIS_URL');
  } else {
    server = await startRedisServer();
    url = server.url;
    console.log(`[test] started redis-server on port ${server.port} (pid ${server.pid})`);
  }
  process.env[TEST_REDIS_URL_ENV] = url;
  project.provide('redisUrl', url);

  return async () => {
    if (server) {
      await server.stop();
      server = undefined;
    }
  };
}
