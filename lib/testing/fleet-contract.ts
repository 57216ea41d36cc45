import type {
  AcquireRequest,
  AcquireResult,
  LockStore,
  RunOutcome,
} from '../stores/lock-store.interface.js';
import type { ContractTestApi } from './lock-store-contract.js';
import { newLockToken } from './contract-support.js';

const MINUTE = 60_000;
/** Fixed occurrences to claim (ms since epoch, a minute apart). */
const FIRST = Date.UTC(2025, 0, 15, 10, 0, 0);
const SECOND = FIRST + MINUTE;
const THIRD = SECOND + MINUTE;

/** `ms` as the wall-clock time of `timeZone`, `HH:mm:ss.SSS`. */
function wallClock(ms: number, timeZone: string): string {
  const hms = { hour: '2-digit', minute: '2-digit', second: '2-digit' } as const;
  const time = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', ...hms }).format(ms);
  return `${time}.${String(ms % 1_000).padStart(3, '0')}`;
}

/**
 * The fleet-control part of the LockStore contract: pause and resume checked by the acquisition
 * itself, the job's history written by the release (and by a paused acquisition), the schedule
 * registered for tools, and the list of jobs. These store methods are optional: a store without
 * `pause` (or `history`, `registerJob`, `listJobs`) passes the cases that need it as not
 * applicable.
 */
export function describeFleetContract(getStore: () => LockStore, test: ContractTestApi): void {
  const { describe, it, expect } = test;

  const acquire = (name: string, overrides: Partial<AcquireRequest> = {}): Promise<AcquireResult> =>
    getStore().acquire({
      name,
      token: newLockToken(),
      ttl: MINUTE,
      instanceId: 'instance-a',
      ...overrides,
    });

  /** A completed run of `scheduledAt` by `instanceId`, released with its history entry. */
  const runOnce = async (
    name: string,
    scheduledAt: number,
    extra: { historySize?: number; instanceId?: string; status?: 'completed' | 'failed' } = {},
  ): Promise<void> => {
    const owner = newLockToken();
    const instanceId = extra.instanceId ?? 'instance-a';
    const got = await getStore().acquire({
      name,
      token: owner,
      ttl: MINUTE,
      scheduledAt,
      instanceId,
    });
    expect(got.acquired).toBe(true);
    const status = extra.status ?? 'completed';
    const outcome: RunOutcome = {
      status,
      durationMs: 250,
      finishedAt: scheduledAt + 1_250,
      run: {
        scheduledAt,
        startedAt: scheduledAt + 1_000,
        fencingToken: got.acquired ? got.fencingToken : 0,
        instanceId,
        trigger: 'schedule',
        outcome: status,
        error: status === 'failed' ? 'Error: boom' : null,
      },
    };
    // `historySize: undefined` stands for a release that leaves the key out.
    const historySize = 'historySize' in extra ? extra.historySize : 10;
    await getStore().release({
      name,
      token: owner,
      outcome,
      ...(historySize === undefined ? {} : { historySize }),
    });
  };

  describe('pause and resume', () => {
    it('refuses an occurrence of a paused job as paused, claiming it: the others see tick-done', async () => {
      const store = getStore();
      if (!store.pause) return;
      await store.pause('job', { reason: 'maintenance', until: null });
      expect(await acquire('job', { scheduledAt: FIRST })).toMatchObject({
        acquired: false,
        reason: 'paused',
        paused: true,
      });
      // `paused` tells the instance turned away that the occurrence was not missed (alerts).
      expect(await acquire('job', { scheduledAt: FIRST, instanceId: 'instance-b' })).toMatchObject({
        acquired: false,
        reason: 'tick-done',
        paused: true,
      });
      expect(await store.inspect('job')).toMatchObject({
        holder: null,
        lastTick: FIRST,
        paused: true,
        pauseReason: 'maintenance',
        pausedUntil: null,
      });
    });

    it('refuses a paused job without an occurrence too, and takes it with force', async () => {
      const store = getStore();
      if (!store.pause) return;
      await store.pause('job', { reason: null, until: null });
      expect(await acquire('job')).toMatchObject({ acquired: false, reason: 'paused' });
      expect(await acquire('job', { force: true, scheduledAt: FIRST })).toMatchObject({
        acquired: true,
      });
      expect((await store.inspect('job')).lastTick).toBe(FIRST);
    });

    it('runs the next occurrence once resumed, and says whether it was paused', async () => {
      const store = getStore();
      if (!store.pause || !store.resume) return;
      await store.pause('job', { reason: null, until: null });
      expect((await acquire('job', { scheduledAt: FIRST })).acquired).toBe(false);
      expect(await store.resume('job')).toBe(true);
      expect(await store.resume('job')).toBe(false);
      expect((await acquire('job', { scheduledAt: SECOND })).acquired).toBe(true);
      expect(await store.inspect('job')).toMatchObject({ paused: false, pauseReason: null });
    });

    it('leaves a lock held while pausing alone: it renews and releases', async () => {
      const store = getStore();
      if (!store.pause) return;
      const owner = newLockToken();
      const held = await store.acquire({
        name: 'job',
        token: owner,
        ttl: MINUTE,
        scheduledAt: FIRST,
        instanceId: 'instance-a',
      });
      expect(held.acquired).toBe(true);
      await store.pause('job', { reason: null, until: null });
      expect(await store.renew({ name: 'job', token: owner, ttl: MINUTE })).toEqual({
        renewed: true,
      });
      expect(await store.inspect('job')).toMatchObject({ holder: 'instance-a', paused: true });
      expect(await store.release({ name: 'job', token: owner })).toBe(true);
    });

    it('pauses a job no instance has run yet', async () => {
      const store = getStore();
      if (!store.pause) return;
      await store.pause('ahead', { reason: 'not yet', until: null });
      expect(await store.inspect('ahead')).toMatchObject({ paused: true, pauseReason: 'not yet' });
      expect(await acquire('ahead', { scheduledAt: FIRST })).toMatchObject({ reason: 'paused' });
    });

    it('ends a pause by itself once its until has passed on the store clock', async () => {
      const store = getStore();
      if (!store.pause) return;
      const until = Date.now() + 1_500;
      await store.pause('job', { reason: 'short', until });
      // Asserted only when answered before `until` (a loaded machine may take longer).
      const state = await store.inspect('job');
      if (Date.now() < until) {
        expect(state).toMatchObject({ paused: true, pausedUntil: until });
      }
      const refused = await acquire('job', { scheduledAt: FIRST });
      if (Date.now() < until) {
        expect(refused).toMatchObject({ reason: 'paused' });
      }
      let occurrence = SECOND;
      await pollUntil(async () => (await acquire('job', { scheduledAt: occurrence++ })).acquired, {
        timeout: 10_000,
        message: 'the pause to end at its until',
      });
      expect(await store.inspect('job')).toMatchObject({ paused: false, pausedUntil: null });
    });
  });

  describe('history', () => {
    it('records each run with its release, newest first, with every field', async () => {
      const store = getStore();
      if (!store.history) return;
      await runOnce('job', FIRST);
      await runOnce('job', SECOND, { instanceId: 'instance-b', status: 'failed' });
      const entries = await store.history('job', 10);
      expect(entries).toHaveLength(2);
      expect(entries[0]).toMatchObject({
        kind: 'run',
        scheduledAt: SECOND,
        startedAt: SECOND + 1_000,
        finishedAt: SECOND + 1_250,
        durationMs: 250,
        instanceId: 'instance-b',
        trigger: 'schedule',
        outcome: 'failed',
        error: 'Error: boom',
      });
      expect(entries[1]).toMatchObject({ kind: 'run', scheduledAt: FIRST, outcome: 'completed' });
      expect(entries[1]!.fencingToken).toBeLessThan(entries[0]!.fencingToken!);
      expect(await store.history('job', 1)).toEqual([entries[0]]);
    });

    it('keeps at most historySize entries, dropping the oldest', async () => {
      const store = getStore();
      if (!store.history) return;
      for (const at of [FIRST, SECOND, THIRD]) {
        await runOnce('job', at, { historySize: 2 });
      }
      const entries = await store.history('job', 10);
      expect(entries.map((entry) => entry.scheduledAt)).toEqual([THIRD, SECOND]);
    });

    it('records nothing with historySize 0 or absent', async () => {
      const store = getStore();
      if (!store.history) return;
      await runOnce('job', FIRST, { historySize: 0 });
      await runOnce('job', SECOND, { historySize: undefined });
      // Nor with a historySize, for an outcome that carries no run to record.
      const owner = newLockToken();
      await acquire('job', { token: owner, scheduledAt: THIRD });
      await store.release({
        name: 'job',
        token: owner,
        outcome: { status: 'completed', durationMs: 1, finishedAt: THIRD + 1 },
        historySize: 10,
      });
      expect(await store.history('job', 10)).toEqual([]);
      // The runs were recorded as outcomes all the same: only the history was left out.
      expect(await store.inspect('job')).toMatchObject({
        lastTick: THIRD,
        lastOutcome: 'completed',
      });
    });

    it('records the occurrences a run found missed, before the run', async () => {
      const store = getStore();
      if (!store.history) return;
      const owner = newLockToken();
      await acquire('job', { token: owner, scheduledAt: THIRD });
      await store.release({
        name: 'job',
        token: owner,
        historySize: 10,
        missed: [FIRST, SECOND],
        outcome: {
          status: 'completed',
          durationMs: 5,
          finishedAt: THIRD + 5,
          run: {
            scheduledAt: THIRD,
            startedAt: THIRD,
            fencingToken: 1,
            instanceId: 'instance-a',
            trigger: 'schedule',
            outcome: 'completed',
            error: null,
          },
        },
      } as Parameters<LockStore['release']>[0]);
      const entries = await store.history('job', 10);
      expect(entries.map((entry) => [entry.kind, entry.scheduledAt])).toEqual([
        ['run', THIRD],
        ['missed', SECOND],
        ['missed', FIRST],
      ]);
    });

    it('records the occurrence a paused acquisition claims, once for the fleet, none without historySize', async () => {
      const store = getStore();
      if (!store.history || !store.pause) return;
      await store.pause('job', { reason: null, until: null });
      await acquire('job', { scheduledAt: FIRST, historySize: 10 });
      await acquire('job', { scheduledAt: FIRST, historySize: 10, instanceId: 'instance-b' });
      const entries = await store.history('job', 10);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        kind: 'paused',
        scheduledAt: FIRST,
        instanceId: 'instance-a',
        outcome: null,
        durationMs: null,
      });
      // "0 or absent records none", as for a release: the key is left out, not `undefined`.
      await store.pause('other', { reason: null, until: null });
      await acquire('other', { scheduledAt: FIRST });
      await acquire('other', { scheduledAt: SECOND, historySize: 0 });
      expect(await store.history('other', 10)).toEqual([]);
      // Claimed all the same: only the history entry was left out.
      expect(await store.inspect('other')).toMatchObject({ lastTick: SECOND, paused: true });
    });

    it('answers an empty history for an unknown job', async () => {
      const store = getStore();
      if (!store.history) return;
      expect(await store.history('never-seen', 10)).toEqual([]);
    });
  });

  describe('job schedule and listing', () => {
    it('shows the registered cron, time zone and next occurrence in inspect()', async () => {
      const store = getStore();
      if (!store.registerJob) return;
      // One zone off the whole hour: a store working in another zone (UTC, its own) fails one.
      for (const timeZone of ['Europe/Paris', 'Asia/Kathmandu']) {
        const name = timeZone.replace('/', '.');
        await store.registerJob(name, { cron: '0 3 * * *', timeZone });
        const state = await store.inspect(name);
        expect(state).toMatchObject({ cron: '0 3 * * *', timeZone });
        expect(state.nextAt).toBeGreaterThan(Date.now());
        expect(state.nextAt! - Date.now()).toBeLessThanOrEqual(25 * 3_600_000);
        expect(wallClock(state.nextAt!, timeZone)).toBe('03:00:00.000');
      }
    });

    it('lists every job it holds state for, sorted', async () => {
      const store = getStore();
      if (!store.listJobs) return;
      // One job ran and released its lock, one holds it now: a store that lists only the live
      // locks (what `status` shows between runs would be empty) must fail here.
      await runOnce('b-job', FIRST);
      expect((await store.inspect('b-job')).holder).toBeNull();
      expect((await acquire('a-job')).acquired).toBe(true);
      await store.pause?.('c-job', { reason: null, until: null });
      const names = await store.listJobs();
      expect(names).toEqual([...names].sort());
      for (const name of ['a-job', 'b-job', ...(store.pause ? ['c-job'] : [])]) {
        expect(names).toContain(name);
      }
    });
  });
}

async function pollUntil<T>(
  predicate: () => Promise<T>,
  { timeout, message }: { timeout: number; message: string },
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await predicate())) {
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeout} ms: ${message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
