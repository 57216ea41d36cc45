/* eslint-disable max-lines -- one suite of independent cases: split, the contract would read in pieces */
import type { AcquireRequest, AcquireResult, LockStore } from '../stores/lock-store.interface.js';
import { describeFleetContract } from './fleet-contract.js';
import { describeHistoryOffContract } from './history-off-contract.js';
import { describeJobIsolationContract } from './job-isolation-contract.js';
import { describeOccurrencePolicyContract } from './occurrence-policy-contract.js';
import { describePlainLockContract } from './plain-lock-contract.js';
import { describeSidePathContract } from './side-path-contract.js';
import { describeStoreParityContract } from './store-parity-contract.js';
import { newLockToken, sleepUpTo, tinyYield, withCaseTimeout } from './contract-support.js';

/** A store under test and how to dispose of it. */
export interface LockStoreFixture {
  store: LockStore;
  close(): Promise<void>;
}

/**
 * The test functions of the runner in use (Vitest's or Jest's):
 * `{ describe, it, expect, beforeEach, afterEach }`. The suite passes each case and hook a
 * timeout of its own (30 s), so the runner's default (5 s) needs no change.
 */
export interface ContractTestApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>, timeout?: number): void;
  beforeEach(body: () => Promise<void>, timeout?: number): void;
  afterEach(body: () => Promise<void>, timeout?: number): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Vitest's and Jest's expect differ in type only
  expect: (actual: unknown) => any;
}

export { newLockToken } from './contract-support.js';

const MINUTE = 60_000;
/** A fixed occurrence to claim (ms since epoch, on a minute boundary). */
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

/** The run history of a job whose runs never reported an outcome. */
const NO_HISTORY = {
  paused: false,
  pauseReason: null,
  pausedUntil: null,
  cron: null,
  timeZone: null,
  nextAt: null,
  lastSuccessAt: null,
  lastDurationMs: null,
  consecutiveFailures: 0,
  lastOutcome: null,
  lastFinishedAt: null,
};

/**
 * The behaviour every {@link LockStore} must have, in the spirit of ShedLock's
 * `AbstractLockProviderIntegrationTest`: each implementation runs this same suite, so the
 * runner can rely on identical answers from the memory store and from Redis.
 *
 * `factory` is called before every test and must return an isolated store (e.g. a unique key
 * prefix), so that tests can use fixed lock names. `runner`: the runner's functions; each case
 * and hook is given a 30 s timeout, so a store over the network is not cut off by the runner's
 * 5 s default.
 */
export function describeLockStoreContract(
  label: string,
  factory: () => Promise<LockStoreFixture>,
  runner: ContractTestApi,
): void {
  const test = withCaseTimeout(runner);
  const { describe, it, expect, beforeEach, afterEach } = test;
  describe(`${label} honours the LockStore contract`, () => {
    let fixture: LockStoreFixture;
    let store: LockStore;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.close();
    });

    const acquire = (
      name: string,
      token: string,
      overrides: Partial<AcquireRequest> = {},
    ): Promise<AcquireResult> =>
      store.acquire({ name, token, ttl: MINUTE, instanceId: 'instance-a', ...overrides });

    /** Takes `job` with a short ttl, then waits until instance-b takes it over once expired. */
    const loseToInstanceB = async (): Promise<{ lost: string; taker: string }> => {
      const lost = newLockToken();
      await acquire('job', lost, { ttl: 150 });
      const taker = newLockToken();
      await pollUntil(
        async () => (await acquire('job', taker, { instanceId: 'instance-b' })).acquired,
        { timeout: 10_000, interval: 25, message: 'another owner to take the expired lock' },
      );
      return { lost, taker };
    };

    describe('acquire', () => {
      it('acquires a free lock and returns a positive integer fencing token', async () => {
        const result = await acquire('job', newLockToken());
        expect(result.acquired).toBe(true);
        if (!result.acquired) return;
        expect(Number.isSafeInteger(result.fencingToken)).toBe(true);
        expect(result.fencingToken).toBeGreaterThan(0);
      });

      it('refuses a second acquisition under another token as held', async () => {
        expect((await acquire('job', newLockToken())).acquired).toBe(true);
        expect(await acquire('job', newLockToken(), { instanceId: 'instance-b' })).toMatchObject({
          acquired: false,
          reason: 'held',
        });
      });

      it('refuses a second acquisition under the same token as held (no re-entry)', async () => {
        const token = newLockToken();
        expect((await acquire('job', token)).acquired).toBe(true);
        expect(await acquire('job', token)).toMatchObject({ acquired: false, reason: 'held' });
      });

      it('keeps the locks of different names independent', async () => {
        expect((await acquire('job-a', newLockToken())).acquired).toBe(true);
        expect((await acquire('job-b', newLockToken())).acquired).toBe(true);
      });

      it('lets another owner acquire once the lock was released', async () => {
        const first = newLockToken();
        expect((await acquire('job', first)).acquired).toBe(true);
        expect(await store.release({ name: 'job', token: first })).toBe(true);
        expect((await acquire('job', newLockToken(), { instanceId: 'instance-b' })).acquired).toBe(
          true,
        );
      });

      it('lets another owner retake a lock whose ttl ran out', async () => {
        expect((await acquire('job', newLockToken(), { ttl: 400 })).acquired).toBe(true);
        expect(await acquire('job', newLockToken())).toMatchObject({
          acquired: false,
          reason: 'held',
        });
        const retaken = await pollUntil(
          async () => {
            const result = await acquire('job', newLockToken(), { instanceId: 'instance-b' });
            return result.acquired ? result : null;
          },
          { timeout: 10_000, interval: 25, message: 'the expired lock to be retaken' },
        );
        expect(retaken.acquired).toBe(true);
      });
    });

    describe('renew', () => {
      it('extends the lock of its owner', async () => {
        const token = newLockToken();
        await acquire('job', token, { ttl: 1_000 });
        expect(await store.renew({ name: 'job', token, ttl: 10 * MINUTE })).toEqual({
          renewed: true,
        });
        const state = await store.inspect('job');
        expect(state.ttlLeft).toBeGreaterThan(MINUTE);
        expect(state.ttlLeft).toBeLessThanOrEqual(10 * MINUTE);
      });

      it('refuses another token as taken and leaves the lock to its owner', async () => {
        const owner = newLockToken();
        await acquire('job', owner, { ttl: 2 * MINUTE });
        expect(await store.renew({ name: 'job', token: newLockToken(), ttl: 10 * MINUTE })).toEqual(
          {
            renewed: false,
            reason: 'taken',
          },
        );
        const state = await store.inspect('job');
        expect(state.holder).toBe('instance-a');
        expect(state.ttlLeft).toBeLessThanOrEqual(2 * MINUTE);
        expect(await store.renew({ name: 'job', token: owner, ttl: MINUTE })).toEqual({
          renewed: true,
        });
      });

      it('reports expired once the lock ran out, and does not revive it', async () => {
        const token = newLockToken();
        await acquire('job', token, { ttl: 150 });
        await pollUntil(async () => (await store.inspect('job')).holder === null, {
          timeout: 10_000,
          message: 'the lock to expire',
        });
        expect(await store.renew({ name: 'job', token, ttl: MINUTE })).toEqual({
          renewed: false,
          reason: 'expired',
        });
        expect((await store.inspect('job')).holder).toBeNull();
        expect((await acquire('job', newLockToken())).acquired).toBe(true);
      });

      it('reports expired for a name that was never locked', async () => {
        expect(await store.renew({ name: 'never', token: newLockToken(), ttl: MINUTE })).toEqual({
          renewed: false,
          reason: 'expired',
        });
      });

      it('reports taken when the lock expired and another owner took it', async () => {
        const { lost: first } = await loseToInstanceB();
        expect(await store.renew({ name: 'job', token: first, ttl: MINUTE })).toEqual({
          renewed: false,
          reason: 'taken',
        });
        expect((await store.inspect('job')).holder).toBe('instance-b');
      });
    });

    describe('release', () => {
      it('refuses another token and leaves the lock intact', async () => {
        const owner = newLockToken();
        await acquire('job', owner);
        expect(await store.release({ name: 'job', token: newLockToken() })).toBe(false);
        expect(await acquire('job', newLockToken())).toMatchObject({
          acquired: false,
          reason: 'held',
        });
        expect((await store.inspect('job')).holder).toBe('instance-a');
        expect(await store.release({ name: 'job', token: owner })).toBe(true);
      });

      it('is idempotent: a second release answers false and frees nothing else', async () => {
        const first = newLockToken();
        await acquire('job', first);
        expect(await store.release({ name: 'job', token: first })).toBe(true);
        expect(await store.release({ name: 'job', token: first })).toBe(false);

        const second = newLockToken();
        expect((await acquire('job', second, { instanceId: 'instance-b' })).acquired).toBe(true);
        expect(await store.release({ name: 'job', token: first })).toBe(false);
        expect((await store.inspect('job')).holder).toBe('instance-b');
      });

      it('answers false for a name that was never locked', async () => {
        expect(await store.release({ name: 'never', token: newLockToken() })).toBe(false);
      });

      it('answers false after the lock expired', async () => {
        const token = newLockToken();
        await acquire('job', token, { ttl: 150 });
        await pollUntil(async () => (await store.inspect('job')).holder === null, {
          timeout: 10_000,
          message: 'the lock to expire',
        });
        expect(await store.release({ name: 'job', token })).toBe(false);
      });

      it('with keepFor keeps the lock that long, then lets it expire', async () => {
        const token = newLockToken();
        await acquire('job', token, { ttl: 10 * MINUTE });
        expect(await store.release({ name: 'job', token, keepFor: 600 })).toBe(true);

        const kept = await store.inspect('job');
        expect(kept.holder).toBe('instance-a');
        expect(kept.ttlLeft).toBeGreaterThan(0);
        expect(kept.ttlLeft).toBeLessThanOrEqual(600);
        expect(await acquire('job', newLockToken())).toMatchObject({
          acquired: false,
          reason: 'held',
        });

        await pollUntil(
          async () => (await acquire('job', newLockToken(), { instanceId: 'instance-b' })).acquired,
          { timeout: 10_000, interval: 25, message: 'the kept lock to expire' },
        );
        expect((await store.inspect('job')).holder).toBe('instance-b');
      });

      it('with keepFor 0 deletes the lock now', async () => {
        const token = newLockToken();
        await acquire('job', token);
        expect(await store.release({ name: 'job', token, keepFor: 0 })).toBe(true);
        expect((await acquire('job', newLockToken())).acquired).toBe(true);
      });
    });

    describe('occurrences', () => {
      it('refuses the same occurrence after release as tick-done', async () => {
        const token = newLockToken();
        await acquire('job', token, { scheduledAt: OCCURRENCE });
        await store.release({ name: 'job', token });
        expect(
          await acquire('job', newLockToken(), {
            scheduledAt: OCCURRENCE,
            instanceId: 'instance-b',
          }),
        ).toMatchObject({ acquired: false, reason: 'tick-done' });
      });

      it('refuses an earlier occurrence as tick-done', async () => {
        const token = newLockToken();
        await acquire('job', token, { scheduledAt: OCCURRENCE });
        await store.release({ name: 'job', token });
        expect(
          await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE - MINUTE }),
        ).toMatchObject({
          acquired: false,
          reason: 'tick-done',
        });
      });

      it('refuses a done occurrence as tick-done even while the lock is held', async () => {
        await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE });
        expect(await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE })).toMatchObject({
          acquired: false,
          reason: 'tick-done',
        });
      });

      it('acquires a later occurrence after release', async () => {
        const token = newLockToken();
        const first = await acquire('job', token, { scheduledAt: OCCURRENCE });
        await store.release({ name: 'job', token });
        const next = await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE + MINUTE });
        expect(next.acquired).toBe(true);
        expect((await store.inspect('job')).lastTick).toBe(OCCURRENCE + MINUTE);
        if (first.acquired && next.acquired) {
          expect(next.fencingToken).toBeGreaterThan(first.fencingToken);
        }
      });

      it('refuses a later occurrence as held while the previous run holds the lock, without claiming it', async () => {
        const owner = newLockToken();
        await acquire('job', owner, { scheduledAt: OCCURRENCE });
        expect(
          await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE + MINUTE }),
        ).toMatchObject({
          acquired: false,
          reason: 'held',
        });
        // The refused occurrence was not marked done: it can still run once the lock is free.
        expect((await store.inspect('job')).lastTick).toBe(OCCURRENCE);
        await store.release({ name: 'job', token: owner });
        expect(
          (await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE + MINUTE })).acquired,
        ).toBe(true);
      });

      it('does no occurrence check and records no occurrence without scheduledAt', async () => {
        const token = newLockToken();
        await acquire('job', token, { scheduledAt: OCCURRENCE });
        await store.release({ name: 'job', token });

        const plain = newLockToken();
        expect((await acquire('job', plain)).acquired).toBe(true);
        await store.release({ name: 'job', token: plain });
        expect((await store.inspect('job')).lastTick).toBe(OCCURRENCE);
        expect((await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE })).acquired).toBe(
          false,
        );
      });

      it('accepts a markerTtl longer than the lock ttl', async () => {
        const result = await acquire('job', newLockToken(), {
          scheduledAt: OCCURRENCE,
          ttl: 1_000,
          markerTtl: 24 * 60 * MINUTE,
        });
        expect(result.acquired).toBe(true);
        expect((await store.inspect('job')).lastTick).toBe(OCCURRENCE);
      });
    });

    describe('occurrences out of bounds', () => {
      /** Claims OCCURRENCE, then checks that `scheduledAt` is refused and changes nothing. */
      const expectRefused = async (scheduledAt: number): Promise<void> => {
        const first = await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE, ttl: 150 });
        expect(first.acquired).toBe(true);
        await pollUntil(async () => (await store.inspect('job')).holder === null, {
          timeout: 10_000,
          message: 'the first lock to expire',
        });
        await expect(
          acquire('job', newLockToken(), { scheduledAt, instanceId: 'instance-b' }),
        ).rejects.toThrow(/scheduledAt/);
        // Nothing was claimed, nothing was locked: the next real occurrence runs.
        const after = await store.inspect('job');
        expect(after.holder).toBeNull();
        expect(after.lastTick).toBe(OCCURRENCE);
        if (first.acquired) {
          expect(after.fencingToken).toBe(first.fencingToken);
        }
        expect(
          (await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE + MINUTE })).acquired,
        ).toBe(true);
      };

      it('refuses an occurrence more than 15 minutes ahead of the store clock', async () => {
        await expectRefused(Date.now() + 2 * 60 * MINUTE);
      });

      it('refuses a µs timestamp passed as ms', async () => {
        await expectRefused(Date.now() * 1_000);
      });

      const refused: Array<[string, number]> = [
        ['Infinity', Infinity],
        ['NaN', Number.NaN],
        ['a fraction', OCCURRENCE + 0.5],
        ['a negative number', -MINUTE],
      ];
      for (const [title, scheduledAt] of refused) {
        it(`refuses ${title} as scheduledAt`, async () => {
          await expectRefused(scheduledAt);
        });
      }

      it('accepts an occurrence a few minutes ahead of the store clock', async () => {
        const ahead = Date.now() + 5 * MINUTE;
        expect((await acquire('job', newLockToken(), { scheduledAt: ahead })).acquired).toBe(true);
        expect((await store.inspect('job')).lastTick).toBe(ahead);
      });

      it('records a success reported from a clock far ahead at the store time, not in the future', async () => {
        const token = newLockToken();
        await acquire('job', token, { scheduledAt: OCCURRENCE });
        const before = Date.now();
        await store.release({
          name: 'job',
          token,
          outcome: {
            status: 'completed',
            durationMs: 7,
            finishedAt: before + 365 * 24 * 60 * MINUTE,
          },
        });
        const state = await store.inspect('job');
        // The store's clock, give or take the second a loaded test machine may take.
        expect(state.lastSuccessAt).toBeGreaterThanOrEqual(before - 1_000);
        expect(state.lastSuccessAt).toBeLessThanOrEqual(Date.now() + 1_000);
        expect(state.lastFinishedAt).toBe(state.lastSuccessAt);
        expect(state.lastDurationMs).toBe(7);

        // A later success from a right clock still moves it forward.
        const next = newLockToken();
        await acquire('job', next, { scheduledAt: OCCURRENCE + MINUTE });
        const finishedAt = Date.now();
        await store.release({
          name: 'job',
          token: next,
          outcome: { status: 'completed', durationMs: 9, finishedAt },
        });
        expect(await store.inspect('job')).toMatchObject({
          lastSuccessAt: finishedAt,
          lastDurationMs: 9,
        });
      });
    });

    describe('fencing tokens', () => {
      it('strictly increase across many acquisitions, releases and expiries', async () => {
        const tokens: number[] = [];
        for (let i = 0; i < 25; i++) {
          const token = newLockToken();
          const result = await acquire('job', token, {
            scheduledAt: i % 2 === 0 ? OCCURRENCE + i * MINUTE : undefined,
            instanceId: `instance-${i % 3}`,
          });
          expect(result.acquired).toBe(true);
          if (result.acquired) tokens.push(result.fencingToken);
          await store.release({ name: 'job', token });
        }
        await acquire('job', newLockToken(), { ttl: 100 });
        const afterExpiry = await pollUntil(
          async () => {
            const result = await acquire('job', newLockToken());
            return result.acquired ? result : null;
          },
          { timeout: 10_000, message: 'the short lock to expire' },
        );
        tokens.push(afterExpiry.fencingToken);

        for (let i = 1; i < tokens.length; i++) {
          expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
        }
      });
    });

    describe('inspect', () => {
      it('reports an unknown lock as free with no history', async () => {
        expect(await store.inspect('never')).toEqual({
          name: 'never',
          holder: null,
          ttlLeft: null,
          lastTick: null,
          fencingToken: null,
          ...NO_HISTORY,
        });
      });

      it('reports holder, ttl left, last occurrence and fencing token', async () => {
        const token = newLockToken();
        const result = await acquire('job', token, {
          scheduledAt: OCCURRENCE,
          ttl: 5 * MINUTE,
          instanceId: 'host-1:42',
        });
        expect(result.acquired).toBe(true);
        if (!result.acquired) return;

        const held = await store.inspect('job');
        expect(held.name).toBe('job');
        expect(held.holder).toBe('host-1:42');
        expect(held.ttlLeft).toBeGreaterThan(4 * MINUTE);
        expect(held.ttlLeft).toBeLessThanOrEqual(5 * MINUTE);
        expect(held.lastTick).toBe(OCCURRENCE);
        expect(held.fencingToken).toBe(result.fencingToken);

        await store.release({ name: 'job', token });
        expect(await store.inspect('job')).toEqual({
          name: 'job',
          holder: null,
          ttlLeft: null,
          lastTick: OCCURRENCE,
          fencingToken: result.fencingToken,
          ...NO_HISTORY,
        });
      });
    });

    describe('run outcomes', () => {
      const FINISHED = Date.UTC(2025, 0, 15, 10, 0, 5);

      it('records a success with its release: time, duration, outcome, failures reset', async () => {
        const token = newLockToken();
        await acquire('job', token, { scheduledAt: OCCURRENCE });
        expect(
          await store.release({
            name: 'job',
            token,
            outcome: { status: 'completed', durationMs: 1_234, finishedAt: FINISHED },
          }),
        ).toBe(true);
        expect(await store.inspect('job')).toMatchObject({
          holder: null,
          lastSuccessAt: FINISHED,
          lastDurationMs: 1_234,
          consecutiveFailures: 0,
          lastOutcome: 'completed',
          lastFinishedAt: FINISHED,
        });
      });

      it('counts failures in a row, keeps the last success, and resets on the next success', async () => {
        const run = async (
          status: 'completed' | 'failed',
          finishedAt: number,
          durationMs = 10,
        ): Promise<void> => {
          const token = newLockToken();
          expect((await acquire('job', token)).acquired).toBe(true);
          await store.release({ name: 'job', token, outcome: { status, durationMs, finishedAt } });
        };
        await run('completed', FINISHED, 50);
        await run('failed', FINISHED + 1_000);
        await run('failed', FINISHED + 2_000);
        await run('failed', FINISHED + 3_000);
        expect(await store.inspect('job')).toMatchObject({
          lastSuccessAt: FINISHED,
          lastDurationMs: 50,
          consecutiveFailures: 3,
          lastOutcome: 'failed',
          lastFinishedAt: FINISHED + 3_000,
        });

        await run('completed', FINISHED + 4_000, 70);
        expect(await store.inspect('job')).toMatchObject({
          lastSuccessAt: FINISHED + 4_000,
          lastDurationMs: 70,
          consecutiveFailures: 0,
          lastOutcome: 'completed',
          lastFinishedAt: FINISHED + 4_000,
        });
      });

      it('records the outcome of a run whose lock was lost, and frees nothing', async () => {
        const { lost } = await loseToInstanceB();
        expect(
          await store.release({
            name: 'job',
            token: lost,
            outcome: { status: 'failed', durationMs: 500, finishedAt: FINISHED },
          }),
        ).toBe(false);
        expect(await store.inspect('job')).toMatchObject({
          holder: 'instance-b',
          consecutiveFailures: 1,
          lastOutcome: 'failed',
          lastFinishedAt: FINISHED,
          lastSuccessAt: null,
        });
      });

      it('never moves the last success back to an earlier time', async () => {
        for (const finishedAt of [FINISHED + 5_000, FINISHED]) {
          const token = newLockToken();
          await acquire('job', token);
          await store.release({
            name: 'job',
            token,
            outcome: { status: 'completed', durationMs: finishedAt - FINISHED, finishedAt },
          });
        }
        expect(await store.inspect('job')).toMatchObject({
          lastSuccessAt: FINISHED + 5_000,
          lastDurationMs: 5_000,
          consecutiveFailures: 0,
        });
      });

      it('never lets a run whose lock was lost move the last success back', async () => {
        const { lost, taker: holder } = await loseToInstanceB();
        expect(
          await store.release({
            name: 'job',
            token: holder,
            outcome: { status: 'completed', durationMs: 5_000, finishedAt: FINISHED + 5_000 },
          }),
        ).toBe(true);
        // The late report of the lost run, stamped earlier (a slower clock).
        expect(
          await store.release({
            name: 'job',
            token: lost,
            outcome: { status: 'completed', durationMs: 0, finishedAt: FINISHED },
          }),
        ).toBe(false);
        expect(await store.inspect('job')).toMatchObject({
          lastSuccessAt: FINISHED + 5_000,
          lastDurationMs: 5_000,
          consecutiveFailures: 0,
          lastOutcome: 'completed',
        });
      });

      it('records nothing for a release without an outcome', async () => {
        const token = newLockToken();
        await acquire('job', token, { scheduledAt: OCCURRENCE });
        await store.release({ name: 'job', token });
        expect(await store.inspect('job')).toMatchObject(NO_HISTORY);
      });

      it('keeps the occurrence marker and the fencing token when it records an outcome', async () => {
        const token = newLockToken();
        const first = await acquire('job', token, { scheduledAt: OCCURRENCE });
        await store.release({
          name: 'job',
          token,
          outcome: { status: 'failed', durationMs: 1, finishedAt: FINISHED },
        });
        expect(await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE })).toMatchObject({
          acquired: false,
          reason: 'tick-done',
        });
        const next = await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE + MINUTE });
        expect(next.acquired).toBe(true);
        if (first.acquired && next.acquired) {
          expect(next.fencingToken).toBeGreaterThan(first.fencingToken);
        }
      });

      it('answers every acquisition (acquired, held, tick-done) with the last success time', async () => {
        const fresh = await acquire('job', newLockToken(), { scheduledAt: OCCURRENCE });
        expect(fresh.acquired).toBe(true);
        expect(fresh.lastSuccessAt ?? null).toBeNull();

        const owner = newLockToken();
        await acquire('other', owner, { scheduledAt: OCCURRENCE });
        await store.release({
          name: 'other',
          token: owner,
          outcome: { status: 'completed', durationMs: 3, finishedAt: FINISHED },
        });
        const holder = newLockToken();
        const acquired = await acquire('other', holder, { scheduledAt: OCCURRENCE + MINUTE });
        expect(acquired).toMatchObject({ acquired: true, lastSuccessAt: FINISHED });
        expect(
          await acquire('other', newLockToken(), { scheduledAt: OCCURRENCE + 2 * MINUTE }),
        ).toMatchObject({ acquired: false, reason: 'held', lastSuccessAt: FINISHED });
        expect(
          await acquire('other', newLockToken(), { scheduledAt: OCCURRENCE + MINUTE }),
        ).toMatchObject({ acquired: false, reason: 'tick-done', lastSuccessAt: FINISHED });
      });
    });

    describeOccurrencePolicyContract(test, () => store);

    describe('fuzz', () => {
      it('loses no update of an unsynchronised counter across 8 concurrent workers', async () => {
        const workers = 8;
        const increments = 160;
        let counter = 0;
        let acquisitions = 0;
        let refusals = 0;
        const fences: number[] = [];

        const worker = async (id: number): Promise<void> => {
          while (acquisitions < increments) {
            const token = newLockToken();
            const result = await store.acquire({
              name: 'fuzz',
              token,
              ttl: 5_000,
              instanceId: `worker-${id}`,
            });
            if (!result.acquired) {
              refusals++;
              await tinyYield();
              continue;
            }
            if (acquisitions >= increments) {
              await store.release({ name: 'fuzz', token });
              break;
            }
            acquisitions++;
            fences.push(result.fencingToken);
            const read = counter;
            await sleepUpTo(2);
            counter = read + 1;
            expect(await store.release({ name: 'fuzz', token })).toBe(true);
          }
        };

        await Promise.all(Array.from({ length: workers }, (_, id) => worker(id)));

        expect(acquisitions).toBe(increments);
        expect(counter).toBe(acquisitions);
        // The workers did contend: exclusion was exercised, not merely trivially satisfied.
        expect(refusals).toBeGreaterThan(0);
        for (let i = 1; i < fences.length; i++) {
          expect(fences[i]).toBeGreaterThan(fences[i - 1]);
        }
      });
    });

    describeFleetContract(() => store, test);
    describeJobIsolationContract(test, () => store);
    describeSidePathContract(test, () => store);
    describeHistoryOffContract(test, () => store);
    describeStoreParityContract(test, () => store);
  });
  describePlainLockContract(label, factory, test);
}

/**
 * Polls `predicate` until it returns a truthy value, or fails after `timeout` ms with the last
 * error it threw.
 */
async function pollUntil<T>(
  predicate: () => T | Promise<T>,
  {
    timeout = 5_000,
    interval = 20,
    message,
  }: { timeout?: number; interval?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeout} ms: ${message ?? 'condition'}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
