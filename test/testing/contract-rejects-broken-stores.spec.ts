// The shipped LockStore contract is how a user proves a store of their own, so a store that breaks
// a guarantee the module relies on must fail it somewhere. Each case here runs the whole suite
// against a MemoryLockStore broken in one realistic way and expects at least one contract case to
// fail (the same suite passes the real MemoryLockStore: test/contract/memory-lock-store.spec.ts).
import { describe, expect, it } from 'vitest';
import { MemoryLockStore, type AcquireRequest, type AcquireResult } from 'nestjs-cron-lock';
import { collectContractCases } from '../support/contract-cases.js';

type Pause = Parameters<MemoryLockStore['pause']>[1];
type Release = Parameters<MemoryLockStore['release']>[0];

/**
 * Keeps one occurrence marker for all its jobs (a marker key left without the job's name): an
 * occurrence claimed by one job is `tick-done` for every other job due at the same time.
 */
class SharesOneOccurrenceMarker extends MemoryLockStore {
  private lastClaimed: number | null = null;

  override async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const { scheduledAt } = request;
    if (
      scheduledAt !== undefined &&
      Number.isSafeInteger(scheduledAt) &&
      scheduledAt >= 0 &&
      this.lastClaimed !== null &&
      scheduledAt <= this.lastClaimed
    ) {
      const state = await this.inspect(request.name);
      return {
        acquired: false,
        reason: 'tick-done',
        lastSuccessAt: state.lastSuccessAt,
        ...(state.paused && { paused: true }),
      };
    }
    const result = await super.acquire(request);
    const { lastTick } = await this.inspect(request.name);
    if (lastTick !== null && (this.lastClaimed === null || lastTick > this.lastClaimed)) {
      this.lastClaimed = lastTick;
    }
    return result;
  }
}

/** Keeps one pause for all its jobs (a pause key left without the job's name). */
class SharesOnePause extends MemoryLockStore {
  private shared: Pause | null = null;

  override async pause(name: string, pause: Pause): Promise<void> {
    this.shared = pause;
    await super.pause(name, pause);
  }

  override async resume(name: string): Promise<boolean> {
    this.shared = null;
    return super.resume(name);
  }

  override async acquire(request: AcquireRequest): Promise<AcquireResult> {
    if (this.shared !== null && (this.shared.until === null || this.shared.until > Date.now())) {
      await super.pause(request.name, this.shared);
    }
    return super.acquire(request);
  }
}

/**
 * Hands a forced acquisition (a manual run of a paused job) the fencing token of the run before
 * it, as a path that skips the counter would: two holders in a row with one token.
 */
class ForceRepeatsFencingToken extends MemoryLockStore {
  override async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const before = (await this.inspect(request.name)).fencingToken;
    const result = await super.acquire(request);
    if (request.force && result.acquired && before !== null) {
      return { ...result, fencingToken: before };
    }
    return result;
  }
}

/**
 * Applies a release's `keepFor` to the lock whoever holds it (the expiry set before the owner is
 * checked): a run that lost its lock shortens the new holder's to its minHold.
 */
class KeepForWithoutOwnerCheck extends MemoryLockStore {
  override async release(request: Release): Promise<boolean> {
    const released = await super.release(request);
    const holder = await this.currentToken(request.name);
    if (!released && request.keepFor && holder !== null) {
      await super.release({ name: request.name, token: holder, keepFor: request.keepFor });
    }
    return released;
  }
}

/** The titles of the contract cases that fail for the stores `build` makes, one case at a time. */
async function failingCases(build: () => MemoryLockStore): Promise<string[]> {
  const cases = collectContractCases(async () => {
    const store = build();
    return { store, close: () => store.close() };
  });
  const failing: string[] = [];
  for (const contractCase of cases) {
    if ((await contractCase.run()) !== undefined) {
      failing.push(contractCase.title);
    }
  }
  return failing;
}

describe('the shipped LockStore contract fails a store that mixes up its jobs', () => {
  it('whose jobs share one occurrence marker, so a job due with another is skipped as tick-done', async () => {
    expect(await failingCases(() => new SharesOneOccurrenceMarker())).not.toEqual([]);
  }, 120_000);

  it('whose pause of one job pauses every job', async () => {
    expect(await failingCases(() => new SharesOnePause())).not.toEqual([]);
  }, 120_000);
});

describe('the shipped LockStore contract fails a store whose side paths skip a guarantee', () => {
  it('whose forced acquisition repeats the fencing token of the run before it', async () => {
    expect(await failingCases(() => new ForceRepeatsFencingToken())).not.toEqual([]);
  }, 120_000);

  it("whose release with keepFor shortens another owner's lock", async () => {
    expect(await failingCases(() => new KeepForWithoutOwnerCheck())).not.toEqual([]);
  }, 120_000);
});
