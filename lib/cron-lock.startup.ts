import type { CronLockLogger } from './observer/logger.js';
import type { LockStore } from './stores/lock-store.interface.js';
import type { StoreKind } from './stores/store-factory.js';
import { describeStoreError } from './utils/redact.js';

/** `error` is the store's own description, which names the cause and the fix. */
export const STORE_CANNOT_LOCK = (error: string): string =>
  `Lock store cannot take locks at startup: ${error}; every run is skipped (or runs, per ` +
  `onStoreError) until it can; will keep trying`;

/**
 * Says once at bootstrap whether the shared store can take locks: `Lock store ready`, or a warning
 * when it is unreachable or answers but refuses writes. Never fatal, as the other startup checks:
 * a store that recovers (a failover that completes) needs no restart, and ticks meanwhile follow
 * `onStoreError`.
 */
export async function announceStore(
  store: LockStore,
  storeKind: StoreKind,
  instanceId: string,
  logger: CronLockLogger,
): Promise<void> {
  let rtt: number;
  try {
    rtt = await store.ping();
  } catch (error) {
    logger.warn(
      `Lock store not reachable at startup: ${describeStoreError(error)}; will keep trying`,
    );
    return;
  }
  try {
    // A replica or a standby answers a ping as a primary does: only a write tells them apart.
    await store.checkWritable?.();
  } catch (error) {
    logger.warn(STORE_CANNOT_LOCK(describeStoreError(error)));
    return;
  }
  // The store names itself: the core imports no backend, so it cannot tell PostgreSQL apart.
  const kind = typeof store.kind === 'string' && store.kind !== '' ? store.kind : storeKind;
  logger.info(`Lock store ready (${kind}, round trip ${rtt.toFixed(1)}ms, instance ${instanceId})`);
}
