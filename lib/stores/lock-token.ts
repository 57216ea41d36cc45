import type { LockStore } from './lock-store.interface.js';
import { RedisLockStore } from './redis/redis-lock.store.js';

/**
 * @internal How an operator's forced release (the dashboard's) reads the owner token of a job's
 * live lock, to hand it to the owner-checked `release()`: the store's own `currentToken()`
 * (MemoryLockStore, PostgresLockStore, a custom store), or a `GET` of the lock key on a
 * RedisLockStore, as the CLI's `release` does. `undefined` when the store offers neither.
 * The token is never shown: only passed back to the store.
 */
export function lockTokenReader(
  store: LockStore,
): ((name: string) => Promise<string | null>) | undefined {
  if (typeof store.currentToken === 'function') {
    return (name) => store.currentToken!(name);
  }
  if (store instanceof RedisLockStore) {
    return (name) => store.client.get(store.keysOf(name).lock);
  }
  return undefined;
}
