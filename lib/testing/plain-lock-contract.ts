import type { AcquireRequest, AcquireResult, LockStore } from '../stores/lock-store.interface.js';
import type { ContractTestApi, LockStoreFixture } from './lock-store-contract.js';
import { newLockToken, sleepUpTo, tinyYield } from './contract-support.js';

const MINUTE = 60_000;
/** A fixed occurrence to claim (ms since epoch, on a minute boundary). */
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

/**
 * What a plain lock ({@link AcquireRequest.plain}: `run()` with no occurrence and nothing to
 * record) must keep when a store takes a leaner path for it: mutual exclusion against plain and
 * recorded acquisitions alike, an owner-checked renewal that extends the lock, an owner-checked
 * idempotent release, an expiry, the occurrence marker and the fencing sequence of recorded runs
 * left intact. A plain acquisition still hands out a fencing token greater than every earlier one
 * of that name, plain or recorded, also once the lock key is gone. Run by
 * {@link describeLockStoreContract}.
 */
export function describePlainLockContract(
  label: string,
  factory: () => Promise<LockStoreFixture>,
  test: ContractTestApi,
): void {
  const { describe, it, expect, beforeEach, afterEach } = test;
  describe(`${label} honours the LockStore contract for plain locks`, () => {
    let fixture: LockStoreFixture;
    let store: LockStore;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.close();
    });

    const plain = (name: string, owner: string, ttl = MINUTE): Promise<AcquireResult> =>
      store.acquire({ name, token: owner, ttl, instanceId: 'instance-a', plain: true });
    const recorded = (
      name: string,
      owner: string,
      overrides: Partial<AcquireRequest> = {},
    ): Promise<AcquireResult> =>
      store.acquire({ name, token: owner, ttl: MINUTE, instanceId: 'instance-b', ...overrides });
    const releasePlain = (name: string, owner: string): Promise<boolean> =>
      store.release({ name, token: owner, plain: true });

    it('excludes every other acquisition while a plain lock is held, and the reverse', async () => {
      const first = newLockToken();
      expect(await plain('job', first)).toMatchObject({ acquired: true });
      expect(await plain('job', newLockToken())).toMatchObject({ acquired: false, reason: 'held' });
      expect(await recorded('job', newLockToken())).toMatchObject({
        acquired: false,
        reason: 'held',
      });
      expect(await recorded('job', newLockToken(), { scheduledAt: OCCURRENCE })).toMatchObject({
        acquired: false,
        reason: 'held',
      });
      expect(await releasePlain('job', first)).toBe(true);

      const holder = newLockToken();
      expect(await recorded('job', holder)).toMatchObject({ acquired: true });
      expect(await plain('job', newLockToken())).toMatchObject({ acquired: false, reason: 'held' });
      expect(await store.release({ name: 'job', token: holder })).toBe(true);
      expect(await plain('job', newLockToken())).toMatchObject({ acquired: true });
    });

    it('releases only its own plain lock, idempotently', async () => {
      const owner = newLockToken();
      expect(await plain('job', owner)).toMatchObject({ acquired: true });
      expect(await releasePlain('job', newLockToken())).toBe(false);
      expect(await plain('job', newLockToken())).toMatchObject({ acquired: false, reason: 'held' });
      expect(await releasePlain('job', owner)).toBe(true);
      expect(await releasePlain('job', owner)).toBe(false);

      const next = newLockToken();
      expect(await plain('job', next)).toMatchObject({ acquired: true });
      // A late release of the earlier owner must not free the new holder's lock.
      expect(await releasePlain('job', owner)).toBe(false);
      expect(await plain('job', newLockToken())).toMatchObject({ acquired: false, reason: 'held' });
      expect(await releasePlain('job', next)).toBe(true);
    });

    it('claims no occurrence and keeps fencing tokens increasing around plain runs', async () => {
      const first = newLockToken();
      const claimed = await recorded('job', first, { scheduledAt: OCCURRENCE });
      if (!claimed.acquired) throw new Error(`first claim refused: ${claimed.reason}`);
      await store.release({ name: 'job', token: first });

      let last = claimed.fencingToken;
      for (let i = 0; i < 3; i++) {
        const owner = newLockToken();
        const result = await plain('job', owner);
        if (!result.acquired) throw new Error(`plain acquisition ${i} refused: ${result.reason}`);
        expect(Number.isSafeInteger(result.fencingToken)).toBe(true);
        expect(result.fencingToken).toBeGreaterThan(last);
        last = result.fencingToken;
        expect(await releasePlain('job', owner)).toBe(true);
      }

      // The occurrence stays done, and the next one gets a greater token than any before.
      expect(await recorded('job', newLockToken(), { scheduledAt: OCCURRENCE })).toMatchObject({
        acquired: false,
        reason: 'tick-done',
      });
      const next = await recorded('job', newLockToken(), { scheduledAt: OCCURRENCE + MINUTE });
      expect(next.acquired).toBe(true);
      if (next.acquired) expect(next.fencingToken).toBeGreaterThan(last);
    });

    it('hands out increasing fencing tokens to plain locks, interleaved with recorded ones', async () => {
      // A plain lock stores no fence, so the one after it cannot count on a stored value: each
      // token must still exceed every earlier one of the name, whichever path took it.
      let last = 0;
      const kinds = ['plain', 'plain', 'recorded', 'plain', 'recorded', 'recorded', 'plain'];
      for (const [i, kind] of kinds.entries()) {
        const owner = newLockToken();
        const result =
          kind === 'plain' ? await plain('mixed', owner) : await recorded('mixed', owner);
        if (!result.acquired) throw new Error(`${kind} acquisition ${i} refused: ${result.reason}`);
        expect(Number.isSafeInteger(result.fencingToken)).toBe(true);
        expect(result.fencingToken).toBeGreaterThan(last);
        last = result.fencingToken;
        const released =
          kind === 'plain'
            ? await releasePlain('mixed', owner)
            : await store.release({ name: 'mixed', token: owner });
        expect(released).toBe(true);
      }
    });

    it('hands out a greater fencing token once an expired plain lock is gone', async () => {
      const first = await plain('expiring', newLockToken(), 200);
      if (!first.acquired) throw new Error(`first plain acquisition refused: ${first.reason}`);
      expect(first.fencingToken).toBeGreaterThan(0);
      const deadline = Date.now() + 10_000;
      let next: AcquireResult = { acquired: false, reason: 'held' };
      while (!next.acquired && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        next = await plain('expiring', newLockToken());
      }
      expect(next.acquired).toBe(true);
      if (next.acquired) expect(next.fencingToken).toBeGreaterThan(first.fencingToken);
    });

    it('renews a plain lock with an owner check and keeps it for keepFor', async () => {
      const owner = newLockToken();
      expect(await plain('job', owner, 1_000)).toMatchObject({ acquired: true });
      // Renewed well past the ttl it was taken with: an answer of `renewed` from a store whose
      // plain path does not extend the lock would let a long run() lose it while told it holds it.
      expect(await store.renew({ name: 'job', token: owner, ttl: 10 * MINUTE })).toEqual({
        renewed: true,
      });
      expect((await store.inspect('job')).ttlLeft).toBeGreaterThan(MINUTE);
      expect(await store.renew({ name: 'job', token: newLockToken(), ttl: MINUTE })).toEqual({
        renewed: false,
        reason: 'taken',
      });
      expect(await store.release({ name: 'job', token: owner, plain: true, keepFor: MINUTE })).toBe(
        true,
      );
      expect(await plain('job', newLockToken())).toMatchObject({ acquired: false, reason: 'held' });
    });

    it('lets a plain lock expire by itself after its ttl', async () => {
      expect(await plain('job', newLockToken(), 300)).toMatchObject({ acquired: true });
      const deadline = Date.now() + 10_000;
      let taken: AcquireResult = { acquired: false, reason: 'held' };
      while (!taken.acquired && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        taken = await plain('job', newLockToken());
      }
      expect(taken.acquired).toBe(true);
    });

    it('loses no update of an unsynchronised counter across 8 workers on plain locks', async () => {
      const workers = 8;
      const increments = 160;
      let counter = 0;
      let acquisitions = 0;
      let refusals = 0;
      const fences: number[] = [];

      const worker = async (): Promise<void> => {
        while (acquisitions < increments) {
          const owner = newLockToken();
          const result = await plain('fuzz', owner, 5_000);
          if (!result.acquired) {
            refusals++;
            await tinyYield();
            continue;
          }
          if (acquisitions >= increments) {
            await releasePlain('fuzz', owner);
            break;
          }
          acquisitions++;
          fences.push(result.fencingToken);
          const read = counter;
          await sleepUpTo(2);
          counter = read + 1;
          expect(await releasePlain('fuzz', owner)).toBe(true);
        }
      };

      await Promise.all(Array.from({ length: workers }, () => worker()));

      expect(acquisitions).toBe(increments);
      expect(counter).toBe(acquisitions);
      expect(refusals).toBeGreaterThan(0);
      expect(fences[0]).toBeGreaterThan(0);
      for (let i = 1; i < fences.length; i++) {
        expect(fences[i]).toBeGreaterThan(fences[i - 1]);
      }
    });
  });
}
