import type { AcquireRequest, AcquireResult, LockStore } from '../stores/lock-store.interface.js';
import type { ContractTestApi } from './lock-store-contract.js';
import { newLockToken } from './contract-support.js';

const MINUTE = 60_000;
/** A fixed occurrence to claim (ms since epoch, on a minute boundary). */
const T0 = Date.UTC(2025, 0, 15, 10, 0, 0);
const at = (minutes: number): number => T0 + minutes * MINUTE;

/**
 * The part of the LockStore contract that catch-up and the overlap policies rely on: the previous
 * occurrence answered with each claim, the one queued occurrence, merged ones, the holder told it
 * is replaced, and the queued occurrence handed to the releasing instance. Called by
 * describeLockStoreContract with the store of the test in progress.
 */
export function describeOccurrencePolicyContract(
  test: ContractTestApi,
  currentStore: () => LockStore,
): void {
  const { describe, it, expect } = test;
  const acquire = (
    name: string,
    owner: string,
    overrides: Partial<AcquireRequest> = {},
  ): Promise<AcquireResult> =>
    currentStore().acquire({
      name,
      token: owner,
      ttl: MINUTE,
      instanceId: 'instance-a',
      ...overrides,
    });
  /** Releases, returning what the release reported as queued. */
  const release = async (name: string, owner: string): Promise<number[]> => {
    const queued: number[] = [];
    await currentStore().release({
      name,
      token: owner,
      outcome: { status: 'completed', durationMs: 1, finishedAt: Date.now() },
      onQueued: (scheduledAt) => queued.push(scheduledAt),
    });
    return queued;
  };

  describe('previous occurrence (missed detection)', () => {
    it('answers no previous occurrence for the first claim of a job', async () => {
      const first = await acquire('job', newLockToken(), { scheduledAt: at(0) });
      expect(first.acquired).toBe(true);
      expect(first.acquired && (first.previousTick ?? null)).toBeNull();
    });

    it('answers the last claimed occurrence with the next claim', async () => {
      const owner = newLockToken();
      await acquire('job', owner, { scheduledAt: at(0) });
      await release('job', owner);
      const next = await acquire('job', newLockToken(), {
        scheduledAt: at(3),
        instanceId: 'instance-b',
      });
      expect(next).toMatchObject({ acquired: true, previousTick: at(0) });
    });

    it('answers the last claim, not an occurrence refused as held', async () => {
      const owner = newLockToken();
      await acquire('job', owner, { scheduledAt: at(0) });
      expect(await acquire('job', newLockToken(), { scheduledAt: at(1) })).toMatchObject({
        acquired: false,
        reason: 'held',
      });
      await release('job', owner);
      expect(await acquire('job', newLockToken(), { scheduledAt: at(2) })).toMatchObject({
        acquired: true,
        previousTick: at(0),
      });
    });
  });

  describe('overlap queue', () => {
    it('queues an occurrence that finds the lock held, with the ms left on the lock', async () => {
      const owner = newLockToken();
      await acquire('job', owner, { scheduledAt: at(0) });
      const queued = await acquire('job', newLockToken(), {
        scheduledAt: at(1),
        overlap: 'queue',
        instanceId: 'instance-b',
      });
      expect(queued).toMatchObject({ acquired: false, reason: 'queued' });
      const retryIn = queued.acquired ? -1 : (queued.retryIn ?? -1);
      expect(retryIn).toBeGreaterThan(0);
      expect(retryIn).toBeLessThanOrEqual(MINUTE);
      // Queued, not claimed: the marker stays on the running occurrence.
      expect((await currentStore().inspect('job')).lastTick).toBe(at(0));
    });

    it('answers queued to every instance asking for the queued occurrence, merged for a later one', async () => {
      await acquire('job', newLockToken(), { scheduledAt: at(0) });
      for (const instanceId of ['instance-b', 'instance-c']) {
        expect(
          await acquire('job', newLockToken(), {
            scheduledAt: at(1),
            overlap: 'queue',
            instanceId,
          }),
        ).toMatchObject({ acquired: false, reason: 'queued' });
      }
      expect(
        await acquire('job', newLockToken(), { scheduledAt: at(2), overlap: 'queue' }),
      ).toMatchObject({ acquired: false, reason: 'merged' });
    });

    it('hands the queued occurrence to the release, which claims it once; a merged one is not missed', async () => {
      const owner = newLockToken();
      await acquire('job', owner, { scheduledAt: at(0) });
      await acquire('job', newLockToken(), { scheduledAt: at(1), overlap: 'queue' });
      await acquire('job', newLockToken(), { scheduledAt: at(2), overlap: 'queue' });
      expect(await release('job', owner)).toEqual([at(1)]);

      const next = newLockToken();
      expect(await acquire('job', next, { scheduledAt: at(1), overlap: 'queue' })).toMatchObject({
        acquired: true,
        previousTick: at(0),
      });
      expect(
        await acquire('job', newLockToken(), {
          scheduledAt: at(1),
          overlap: 'queue',
          instanceId: 'b',
        }),
      ).toMatchObject({ acquired: false, reason: 'tick-done' });
      // It ran: the next release finds nothing queued.
      expect(await release('job', next)).toEqual([]);
      // at(2) merged into at(1): the claim after it does not count it as missed.
      expect(await acquire('job', newLockToken(), { scheduledAt: at(3) })).toMatchObject({
        acquired: true,
        previousTick: at(2),
      });
    });

    it('lets no later occurrence take the freed lock ahead of the queued one: it merges, and is handed the queued one', async () => {
      const owner = newLockToken();
      await acquire('job', owner, { scheduledAt: at(0) });
      await acquire('job', newLockToken(), { scheduledAt: at(1), overlap: 'queue' });
      // Released; the holder's claim of at(1) is still on its way when at(2)'s tick arrives.
      expect(await release('job', owner)).toEqual([at(1)]);
      const handed: number[] = [];
      expect(
        await acquire('job', newLockToken(), {
          scheduledAt: at(2),
          overlap: 'queue',
          instanceId: 'instance-b',
          onQueued: (scheduledAt) => handed.push(scheduledAt),
        }),
      ).toMatchObject({ acquired: false, reason: 'merged' });
      expect(handed).toEqual([at(1)]);

      // The queued occurrence still runs; the claim after it counts at(2) as merged, not missed.
      const queuedOwner = newLockToken();
      expect(
        await acquire('job', queuedOwner, { scheduledAt: at(1), overlap: 'queue' }),
      ).toMatchObject({ acquired: true, previousTick: at(0) });
      expect(await release('job', queuedOwner)).toEqual([]);
      expect(
        await acquire('job', newLockToken(), { scheduledAt: at(3), overlap: 'queue' }),
      ).toMatchObject({ acquired: true, previousTick: at(2) });
    });

    it('tells an occurrence that merges behind a held lock which one is queued, and when that lock would expire', async () => {
      const owner = newLockToken();
      await acquire('job', owner, { scheduledAt: at(0) });
      // The holder's own instance queues the next occurrence behind its run...
      await acquire('job', newLockToken(), { scheduledAt: at(1), overlap: 'queue' });
      // ...so another instance, merging, must be able to claim it if that holder never releases.
      const handed: Array<[number, number | undefined]> = [];
      expect(
        await acquire('job', newLockToken(), {
          scheduledAt: at(2),
          overlap: 'queue',
          instanceId: 'instance-b',
          onQueued: (scheduledAt, retryIn) => handed.push([scheduledAt, retryIn]),
        }),
      ).toMatchObject({ acquired: false, reason: 'merged' });
      expect(handed).toHaveLength(1);
      const [queued, retryIn] = handed[0];
      expect(queued).toBe(at(1));
      expect(retryIn).toBeGreaterThan(0);
      expect(retryIn).toBeLessThanOrEqual(MINUTE);
    });

    it('records a merged occurrence in the history once fleet-wide, trimmed to historySize', async () => {
      const store = currentStore();
      if (!store.history) return;
      const owner = newLockToken();
      await acquire('job', owner, { scheduledAt: at(0), historySize: 2 });
      await acquire('job', newLockToken(), {
        scheduledAt: at(1),
        overlap: 'queue',
        historySize: 2,
      });
      // Three instances try the same later occurrence: one entry, by the first.
      for (const instanceId of ['instance-a', 'instance-b', 'instance-c']) {
        expect(
          await acquire('job', newLockToken(), {
            scheduledAt: at(2),
            overlap: 'queue',
            instanceId,
            historySize: 2,
          }),
        ).toMatchObject({ acquired: false, reason: 'merged' });
      }
      const before = Date.now();
      await acquire('job', newLockToken(), {
        scheduledAt: at(3),
        overlap: 'replace',
        instanceId: 'instance-b',
        historySize: 2,
      });
      await acquire('job', newLockToken(), {
        scheduledAt: at(4),
        overlap: 'queue',
        historySize: 2,
      });
      const entries = await store.history('job', 10);
      // Trimmed to the newest two: at(4), then at(3); the queued at(1) is no entry.
      expect(entries.map((entry) => [entry.kind, entry.scheduledAt])).toEqual([
        ['merged', at(4)],
        ['merged', at(3)],
      ]);
      expect(entries[1]).toMatchObject({
        instanceId: 'instance-b',
        startedAt: null,
        outcome: null,
        fencingToken: null,
      });
      // Store time, give or take the clocks of a test machine.
      expect(entries[1]?.finishedAt).toBeGreaterThan(before - MINUTE);
      await release('job', owner);
    });

    it('runs no occurrence merged into the queued one, also when it is asked for after the queued one was claimed', async () => {
      const owner = newLockToken();
      await acquire('job', owner, { scheduledAt: at(0) });
      await acquire('job', newLockToken(), { scheduledAt: at(1), overlap: 'queue' });
      await acquire('job', newLockToken(), { scheduledAt: at(2), overlap: 'queue' });
      expect(await release('job', owner)).toEqual([at(1)]);
      const queuedOwner = newLockToken();
      expect(
        await acquire('job', queuedOwner, { scheduledAt: at(1), overlap: 'queue' }),
      ).toMatchObject({ acquired: true });
      // An instance whose tick of at(2) comes late: at(2) merged into at(1), which now runs.
      const late = { scheduledAt: at(2), overlap: 'queue', instanceId: 'instance-b' } as const;
      expect(await acquire('job', newLockToken(), late)).toMatchObject({
        acquired: false,
        reason: 'merged',
      });
      expect(await release('job', queuedOwner)).toEqual([]);
      // Nor once the queued one's run released the lock.
      expect(await acquire('job', newLockToken(), late)).toMatchObject({
        acquired: false,
        reason: 'merged',
      });
      expect(
        await acquire('job', newLockToken(), { scheduledAt: at(3), overlap: 'queue' }),
      ).toMatchObject({ acquired: true, previousTick: at(2) });
    });

    it('records an occurrence queued before a pause as paused when a paused claim passes it', async () => {
      const store = currentStore();
      if (!store.pause || !store.history) return;
      const owner = newLockToken();
      await acquire('job', owner, { scheduledAt: at(0), historySize: 10 });
      const queue = { overlap: 'queue', historySize: 10 } as const;
      expect(await acquire('job', newLockToken(), { scheduledAt: at(1), ...queue })).toMatchObject({
        reason: 'queued',
      });
      await store.pause('job', { reason: null, until: null });
      expect(await acquire('job', newLockToken(), { scheduledAt: at(2), ...queue })).toMatchObject({
        reason: 'paused',
      });
      // at(1) was not run and will not be (the paused claim of at(2) passed it): it is in the
      // history as skipped while paused, as at(2) is, instead of gone without a trace.
      expect(await release('job', owner)).toEqual([]);
      const entries = await store.history('job', 10);
      expect(entries.map((entry) => [entry.kind, entry.scheduledAt])).toEqual([
        ['paused', at(2)],
        ['paused', at(1)],
      ]);
    });

    it('queues nothing without an overlap policy', async () => {
      const owner = newLockToken();
      await acquire('job', owner, { scheduledAt: at(0) });
      expect(await acquire('job', newLockToken(), { scheduledAt: at(1) })).toMatchObject({
        acquired: false,
        reason: 'held',
      });
      expect(await release('job', owner)).toEqual([]);
    });

    it('still answers tick-done for a done occurrence under an overlap policy', async () => {
      await acquire('job', newLockToken(), { scheduledAt: at(0) });
      expect(
        await acquire('job', newLockToken(), { scheduledAt: at(0), overlap: 'queue' }),
      ).toMatchObject({ acquired: false, reason: 'tick-done' });
    });
  });

  describe('overlap replace', () => {
    it('tells the holder at its next renewal, and keeps its lock until it releases', async () => {
      const owner = newLockToken();
      await acquire('job', owner, { scheduledAt: at(0) });
      expect(await currentStore().renew({ name: 'job', token: owner, ttl: MINUTE })).toEqual({
        renewed: true,
      });
      expect(
        await acquire('job', newLockToken(), {
          scheduledAt: at(1),
          overlap: 'replace',
          instanceId: 'b',
        }),
      ).toMatchObject({ acquired: false, reason: 'queued' });
      expect(await currentStore().renew({ name: 'job', token: owner, ttl: MINUTE })).toEqual({
        renewed: true,
        replaced: true,
      });
      expect((await currentStore().inspect('job')).holder).toBe('instance-a');
      expect(
        await acquire('job', newLockToken(), { scheduledAt: at(1), overlap: 'replace' }),
      ).toMatchObject({ acquired: false, reason: 'queued' });
      expect(await release('job', owner)).toEqual([at(1)]);

      const next = newLockToken();
      expect(await acquire('job', next, { scheduledAt: at(1), overlap: 'replace' })).toMatchObject({
        acquired: true,
      });
      // The new holder is not the one replaced.
      expect(await currentStore().renew({ name: 'job', token: next, ttl: MINUTE })).toEqual({
        renewed: true,
      });
    });
  });
}
