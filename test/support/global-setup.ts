import type { TestProject } from 'vitest/node';
import { ensureBuilt } from './built-package.js';
import { startPostgresServer, type PostgresServerHandle } from './postgres-server.js';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the Redis server the test run uses (REDIS_URL, or a private redis-server). */
    redisUrl: string;
    /** URL of the PostgreSQL database the test run uses (DATABASE_URL, or a private server). */
    postgresUrl: string;
  }
}

/** Environment variable through which forked child processes inherit the test Redis URL. */
export const TEST_REDIS_URL_ENV = 'CRON_LOCK_TEST_REDIS_URL';

/** Environment variable through which forked child processes inherit the test database URL. */
export const TEST_DATABASE_URL_ENV = 'CRON_LOCK_TEST_DATABASE_URL';

let server: RedisServerHandle | undefined;
let postgres: PostgresServerHandle | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  ensureBuilt();
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

  let databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    console.log('[test] using the PostgreSQL database from DATABASE_URL');
  } else {
    postgres = await startPostgresServer();
    databaseUrl = postgres.url;
    console.log(`[test] started postgres on port ${postgres.port} (pid ${postgres.pid})`);
  }
  process.env[TEST_DATABASE_URL_ENV] = databaseUrl;
  project.provide('postgresUrl', databaseUrl);

  return async () => {
    if (postgres) {
      await postgres.stop();
      postgres = undefined;
    }
    if (server) {
      await server.stop();
      server = undefined;
    }
  };
}
