import type { LockStore, ReleaseRequest, RunOutcome } from '../stores/lock-store.interface.js';
import type { ContractTestApi } from './lock-store-contract.js';
import { newLockToken } from './contract-support.js';

const MINUTE = 60_000;
/** A fixed occurrence to claim (ms since epoch, on a minute boundary). */
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

/**
 * A job's history once it is turned off (module option `historySize: 0`): the next release that
 * reports a run's outcome with `historySize: 0` empties it, in the same step, so that a deployment
 * that turned it off never shows the runs recorded before as the newest. A release that leaves
 * `historySize` out, or reports no outcome (a CLI or dashboard release of a held lock), says
 * nothing of the size: it records nothing and leaves the entries alone. A store without
 * `history` passes as not applicable. Called by describeLockStoreContract with the store of the
 * test in progress.
 */
export function describeHistoryOffContract(
  test: ContractTestApi,
  currentStore: () => LockStore,
): void {
  const { describe, it, expect } = test;
  let minute = 0;

  /** A completed run of the job's next occurrence, released with `extra`. */
  const runOnce = async (extra: Partial<ReleaseRequest>): Promise<void> => {
    const token = newLockToken();
    const scheduledAt = OCCURRENCE + minute++ * MINUTE;
    const got = await currentStore().acquire({
      name: 'job',
      token,
      ttl: MINUTE,
      scheduledAt,
      instanceId: 'instance-a',
    });
    expect(got.acquired).toBe(true);
    const outcome: RunOutcome = {
      status: 'completed',
      durationMs: 5,
      finishedAt: scheduledAt + 5,
      run: {
        scheduledAt,
        startedAt: scheduledAt,
        fencingToken: got.acquired ? got.fencingToken : 0,
        instanceId: 'instance-a',
        trigger: 'schedule',
        outcome: 'completed',
        error: null,
      },
    };
    await currentStore().release({ name: 'job', token, outcome, ...extra });
  };
  const kept = async (): Promise<number[]> =>
    ((await currentStore().history?.('job', 10)) ?? []).map((entry) => entry.scheduledAt ?? 0);

  describe('history turned off', () => {
    it('empties the history at the next release of a run with historySize 0, and only then', async () => {
      if (!currentStore().history) return;
      minute = 0;
      await runOnce({ historySize: 10 });
      await runOnce({ historySize: 10 });
      expect(await kept()).toEqual([OCCURRENCE + MINUTE, OCCURRENCE]);

      // A release without an outcome (the CLI's or the dashboard's) is no sign of the size.
      const held = newLockToken();
      await currentStore().acquire({ name: 'job', token: held, ttl: MINUTE, instanceId: 'a' });
      expect(await currentStore().release({ name: 'job', token: held })).toBe(true);
      expect(await kept()).toEqual([OCCURRENCE + MINUTE, OCCURRENCE]);

      await runOnce({ historySize: 0 });
      expect(await kept()).toEqual([]);
      await runOnce({ historySize: 10 });
      expect(await kept()).toEqual([OCCURRENCE + 3 * MINUTE]);
      await runOnce({});
      expect(await kept()).toEqual([OCCURRENCE + 3 * MINUTE]);
      // Only the history went: the runs were recorded as outcomes all the same.
      expect(await currentStore().inspect('job')).toMatchObject({
        lastTick: OCCURRENCE + 4 * MINUTE,
        lastOutcome: 'completed',
      });
    });
  });
}
