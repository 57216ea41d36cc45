// The shipped LockStore contract is how a user proves a store of their own, so a store that breaks
// a guarantee the module relies on must fail it somewhere. Each case here runs the whole suite
// against a MemoryLockStore broken in one realistic way and expects at least one contract case to
// fail (the same suite passes the real MemoryLockStore: test/contract/memory-lock-store.spec.ts).
import { describe, expect, it } from 'vitest';
import {
  MemoryLockStore,
  type AcquireRequest,
  type AcquireResult,
  type LockStore,
} from 'nestjs-cron-lock';
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

/** Vitest's and Jest's default test timeout, which a case gets unless the suite asks for another. */
const RUNNER_DEFAULT_TIMEOUT_MS = 5_000;

/** A correct store over a network: every call takes `latencyMs` more (e.g. a managed database). */
function overNetwork(store: MemoryLockStore, latencyMs: number): LockStore {
  const wait = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, latencyMs));
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await wait();
        return (value as (...args: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('the shipped LockStore contract under a test runner', () => {
  it("passes a correct store 40 ms away within the timeout it asks for, not cut off by the runner's 5 s default", async () => {
    const cases = collectContractCases(async () => {
      const store = overNetwork(new MemoryLockStore(), 40);
      return { store, close: () => store.close() };
    });
    // 160 locked increments, each ending with a release that takes 40 ms: over 6.4 s on such a store.
    const fuzz = cases.find((candidate) =>
      candidate.title.endsWith(
        'loses no update of an unsynchronised counter across 8 concurrent workers',
      ),
    );
    expect(fuzz).toBeDefined();
    const budget = fuzz!.timeout ?? RUNNER_DEFAULT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(new Error(`Test timed out in ${budget}ms.`)), budget);
    });
    const outcome = await Promise.race([fuzz!.run(), timedOut]);
    clearTimeout(timer);
    expect(outcome).toBeUndefined();
  }, 120_000);
});
