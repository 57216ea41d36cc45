import type { AcquireRequest, AcquireResult, LockStore } from '../stores/lock-store.interface.js';
import type { ContractTestApi } from './lock-store-contract.js';
import { newLockToken } from './contract-support.js';

const MINUTE = 60_000;
/** A fixed occurrence to claim (ms since epoch, on a minute boundary). */
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

/**
 * Answers on which the built-in stores once differed, each found by running the same sequences of
 * operations on the three of them side by side: a store that gives another answer here gives the
 * runner (or an admin script) a different picture of the fleet than the other stores would.
 * Called by describeLockStoreContract with the store of the test in progress.
 */
export function describeStoreParityContract(
  test: ContractTestApi,
  currentStore: () => LockStore,
): void {
  const { describe, it, expect } = test;
  const acquire = (overrides: Partial<AcquireRequest> = {}): Promise<AcquireResult> =>
    currentStore().acquire({
      name: 'job',
      token: newLockToken(),
      ttl: MINUTE,
      instanceId: 'instance-a',
      ...overrides,
    });

  describe('answers alike', () => {
    it('claims a trigger request as its first operation, for one caller only', async () => {
      // An admin script, or an instance that hears a request first, on a store just built.
      const store = currentStore();
      if (!store.triggers) return;
      expect(await store.triggers.claim('job', 'first', 'instance-a', MINUTE)).toBe(true);
      expect(await store.triggers.claim('job', 'first', 'instance-b', MINUTE)).toBe(false);
    });

    it('says the job is paused on a tick-done answer to a forced acquisition too', async () => {
      const store = currentStore();
      if (!store.pause) return;
      await store.pause('job', { reason: null, until: null });
      expect(await acquire({ scheduledAt: OCCURRENCE })).toMatchObject({ reason: 'paused' });
      // The occurrence is done, and the job is still paused fleet-wide: force changes neither.
      expect(
        await acquire({ scheduledAt: OCCURRENCE, force: true, instanceId: 'instance-b' }),
      ).toMatchObject({ acquired: false, reason: 'tick-done', paused: true });
    });

    it('says the job is paused on a merged answer for an occurrence whose queued run was claimed', async () => {
      const store = currentStore();
      if (!store.pause) return;
      const holder = newLockToken();
      expect((await acquire({ token: holder, scheduledAt: OCCURRENCE })).acquired).toBe(true);
      const queue = { overlap: 'queue', instanceId: 'instance-b' } as const;
      expect(await acquire({ ...queue, scheduledAt: OCCURRENCE + MINUTE })).toMatchObject({
        reason: 'queued',
      });
      expect(await acquire({ ...queue, scheduledAt: OCCURRENCE + 2 * MINUTE })).toMatchObject({
        reason: 'merged',
      });
      await store.release({ name: 'job', token: holder });
      expect((await acquire({ scheduledAt: OCCURRENCE + MINUTE })).acquired).toBe(true);
      await store.pause('job', { reason: null, until: null });
      // A late instance asks for the occurrence merged into the run claimed since: that run stands
      // for it, and the job is paused fleet-wide meanwhile, as a tick-done answer would say.
      expect(
        await acquire({ ...queue, scheduledAt: OCCURRENCE + 2 * MINUTE, instanceId: 'instance-c' }),
      ).toMatchObject({ acquired: false, reason: 'merged', paused: true });
    });

    it('says the job is paused on a merged answer to a forced acquisition too', async () => {
      const store = currentStore();
      if (!store.pause) return;
      const holder = newLockToken();
      expect((await acquire({ token: holder, scheduledAt: OCCURRENCE })).acquired).toBe(true);
      const queue = { overlap: 'queue', instanceId: 'instance-b' } as const;
      await acquire({ ...queue, scheduledAt: OCCURRENCE + MINUTE });
      await acquire({ ...queue, scheduledAt: OCCURRENCE + 2 * MINUTE });
      await store.release({ name: 'job', token: holder });
      expect((await acquire({ scheduledAt: OCCURRENCE + MINUTE })).acquired).toBe(true);
      await store.pause('job', { reason: null, until: null });
      // The occurrence is done (merged into the run claimed since), and the job is still paused
      // fleet-wide: force changes neither, as with a tick-done answer.
      expect(
        await acquire({
          ...queue,
          scheduledAt: OCCURRENCE + 2 * MINUTE,
          force: true,
          instanceId: 'instance-c',
        }),
      ).toMatchObject({ acquired: false, reason: 'merged', paused: true });
    });

    it('frees the lock of a run reported with a finish time that is not a number', async () => {
      const store = currentStore();
      const token = newLockToken();
      expect((await acquire({ token, scheduledAt: OCCURRENCE })).acquired).toBe(true);
      const before = Date.now();
      const outcome = { status: 'completed', durationMs: 12, finishedAt: Number.NaN } as const;
      expect(await store.release({ name: 'job', token, outcome })).toBe(true);
      // Recorded at the store's own time, as a finish time ahead of its clock is.
      const state = await store.inspect('job');
      expect(state).toMatchObject({ holder: null, lastOutcome: 'completed' });
      expect(state.lastFinishedAt).toBeGreaterThanOrEqual(before - 1_000);
      expect(state.lastSuccessAt).toBe(state.lastFinishedAt);
    });

    it('records a negative run duration as 0 in inspect(), as its history entry does', async () => {
      const store = currentStore();
      const token = newLockToken();
      const got = await acquire({ token, scheduledAt: OCCURRENCE });
      expect(got.acquired).toBe(true);
      // A duration measured across a clock step, or reported by a caller of its own.
      await store.release({
        name: 'job',
        token,
        outcome: { status: 'completed', durationMs: -5, finishedAt: OCCURRENCE + 1_000 },
      });
      expect(await store.inspect('job')).toMatchObject({ lastDurationMs: 0 });
    });
  });
}
