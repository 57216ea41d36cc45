import type { AcquireRequest, AcquireResult, LockStore } from '../stores/lock-store.interface.js';
import type { ContractTestApi } from './lock-store-contract.js';
import { newLockToken } from './contract-support.js';

const MINUTE = 60_000;
/** A fixed occurrence to claim (ms since epoch, on a minute boundary). */
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

/**
 * The part of the LockStore contract that keeps jobs apart: the occurrence one job claims and the
 * pause of one job are that job's own. Jobs on the same schedule (two hourly reports) claim the
 * same occurrence; a store whose marker or pause key leaves out the job's name would skip every
 * job but the first as `tick-done`, or stop them all, and the other cases (one job each) cannot
 * tell. Called by describeLockStoreContract with the store of the test in progress.
 */
export function describeJobIsolationContract(
  test: ContractTestApi,
  currentStore: () => LockStore,
): void {
  const { describe, it, expect } = test;
  const acquire = (name: string, overrides: Partial<AcquireRequest> = {}): Promise<AcquireResult> =>
    currentStore().acquire({
      name,
      token: newLockToken(),
      ttl: MINUTE,
      instanceId: 'instance-a',
      ...overrides,
    });

  describe('jobs kept apart', () => {
    it('claims an occurrence for its own job only: another job due at the same time runs it too', async () => {
      const first = newLockToken();
      expect(await acquire('job-a', { token: first, scheduledAt: OCCURRENCE })).toMatchObject({
        acquired: true,
      });
      expect(await currentStore().release({ name: 'job-a', token: first })).toBe(true);

      const second = newLockToken();
      expect(
        await acquire('job-b', {
          token: second,
          scheduledAt: OCCURRENCE,
          instanceId: 'instance-b',
        }),
      ).toMatchObject({ acquired: true });
      expect(await currentStore().release({ name: 'job-b', token: second })).toBe(true);
      // A job that never ran takes an earlier occurrence than the other jobs' latest.
      expect(await acquire('job-c', { scheduledAt: OCCURRENCE - MINUTE })).toMatchObject({
        acquired: true,
      });

      // Each job's own occurrence stays done.
      for (const name of ['job-a', 'job-b']) {
        expect(await acquire(name, { scheduledAt: OCCURRENCE })).toMatchObject({
          acquired: false,
          reason: 'tick-done',
        });
        expect((await currentStore().inspect(name)).lastTick).toBe(OCCURRENCE);
      }
      expect((await currentStore().inspect('job-c')).lastTick).toBe(OCCURRENCE - MINUTE);
    });

    it('pauses only the job it names, and resumes only that one', async () => {
      const store = currentStore();
      if (!store.pause) return;
      await store.pause('job-a', { reason: 'maintenance', until: null });

      expect(await acquire('job-b', { scheduledAt: OCCURRENCE })).toMatchObject({
        acquired: true,
      });
      expect(await acquire('job-c')).toMatchObject({ acquired: true });
      expect(await store.inspect('job-b')).toMatchObject({ paused: false, pauseReason: null });
      expect(await acquire('job-a', { scheduledAt: OCCURRENCE })).toMatchObject({
        acquired: false,
        reason: 'paused',
      });

      if (!store.resume) return;
      // Resuming another job leaves this one paused.
      expect(await store.resume('job-b')).toBe(false);
      expect(await acquire('job-a', { scheduledAt: OCCURRENCE + MINUTE })).toMatchObject({
        acquired: false,
        reason: 'paused',
      });
      expect((await store.inspect('job-a')).paused).toBe(true);
    });
  });
}
