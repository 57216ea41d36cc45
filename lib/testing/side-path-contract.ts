import type { AcquireRequest, AcquireResult, LockStore } from '../stores/lock-store.interface.js';
import type { ContractTestApi } from './lock-store-contract.js';
import { newLockToken } from './contract-support.js';

const MINUTE = 60_000;
/** A fixed occurrence to claim (ms since epoch, on a minute boundary). */
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

/**
 * The guarantees of the main path, held on the side paths a store may write apart: a forced
 * acquisition (a manual run of a paused job) still hands out a greater fencing token, and a
 * release with `keepFor` (a job's `minHold`) still checks the owner before it touches the expiry.
 * The runner releases with `keepFor` also after its lock was lost, so a store that sets the expiry
 * first would cut the new holder's lock short. Called by describeLockStoreContract with the store
 * of the test in progress.
 */
export function describeSidePathContract(
  test: ContractTestApi,
  currentStore: () => LockStore,
): void {
  const { describe, it, expect } = test;
  const acquire = (
    token: string,
    overrides: Partial<AcquireRequest> = {},
  ): Promise<AcquireResult> =>
    currentStore().acquire({
      name: 'job',
      token,
      ttl: MINUTE,
      instanceId: 'instance-a',
      ...overrides,
    });
  /** The fencing token of an acquisition that must succeed, then released. */
  const fenceOf = async (overrides: Partial<AcquireRequest>): Promise<number> => {
    const token = newLockToken();
    const result = await acquire(token, overrides);
    if (!result.acquired) throw new Error(`acquisition refused: ${result.reason}`);
    expect(await currentStore().release({ name: 'job', token })).toBe(true);
    return result.fencingToken;
  };

  describe('side paths', () => {
    it('hands a forced acquisition a greater fencing token than every earlier one', async () => {
      const first = await fenceOf({});
      await currentStore().pause?.('job', { reason: 'maintenance', until: null });
      const forced = await fenceOf({ force: true });
      expect(forced).toBeGreaterThan(first);
      const forcedClaim = await fenceOf({ force: true, scheduledAt: OCCURRENCE });
      expect(forcedClaim).toBeGreaterThan(forced);
      expect((await currentStore().inspect('job')).fencingToken).toBe(forcedClaim);
    });

    it("leaves another owner's lock as it is on a release with keepFor", async () => {
      const owner = newLockToken();
      expect(await acquire(owner, { ttl: 10 * MINUTE })).toMatchObject({ acquired: true });

      // Neither shortened (another instance could take it while its owner runs) nor lengthened.
      for (const keepFor of [50, 20 * MINUTE]) {
        expect(await currentStore().release({ name: 'job', token: newLockToken(), keepFor })).toBe(
          false,
        );
        const state = await currentStore().inspect('job');
        expect(state.holder).toBe('instance-a');
        expect(state.ttlLeft).toBeGreaterThan(MINUTE);
        expect(state.ttlLeft).toBeLessThanOrEqual(10 * MINUTE);
      }
      expect(await acquire(newLockToken(), { instanceId: 'instance-b' })).toMatchObject({
        acquired: false,
        reason: 'held',
      });
      expect(await currentStore().release({ name: 'job', token: owner })).toBe(true);
    });
  });
}
