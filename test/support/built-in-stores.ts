import { MemoryLockStore, RedisLockStore, type LockStore } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { dropTable, newPool, uniqueTable } from './postgres.js';
import { testRedisUrl, uniquePrefix } from './redis.js';

/** One of the three built-in stores, built fresh for a test and closed (its data dropped) after. */
export interface BuiltInStore {
  label: 'MemoryLockStore' | 'RedisLockStore' | 'PostgresLockStore';
  build: () => Promise<{ store: LockStore; close: () => Promise<void> }>;
}

/**
 * The memory, Redis and PostgreSQL stores, each on its own key prefix or table named after
 * `name` (letters, digits and `_`): for `describe.each` over what all three must answer alike.
 */
export function builtInStores(name: string): BuiltInStore[] {
  return [
    {
      label: 'MemoryLockStore',
      build: async () => {
        const store = new MemoryLockStore();
        return { store, close: () => store.close() };
      },
    },
    {
      label: 'RedisLockStore',
      build: async () => {
        const store = new RedisLockStore(testRedisUrl(), {
          keyPrefix: uniquePrefix(name),
          logger: false,
        });
        return { store, close: () => store.close() };
      },
    },
    {
      label: 'PostgresLockStore',
      build: async () => {
        const pool = newPool();
        const table = uniqueTable(name);
        const store = new PostgresLockStore(pool, { table, logger: false });
        return {
          store,
          close: async () => {
            await store.close();
            await dropTable(pool, table);
            await pool.end();
          },
        };
      },
    },
  ];
}
