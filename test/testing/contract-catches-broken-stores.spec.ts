// The shipped LockStore contract is how a user proves a store of their own: each case here runs
// one contract case against a store broken in the way that case is about, and expects the case
// to fail. The same case passes on the real MemoryLockStore, so the failure is the store's.
import { CronTime } from 'cron';
import { describe, expect, it } from 'vitest';
import { MemoryLockStore } from 'nestjs-cron-lock';
import { collectContractCases, contractCase } from '../support/contract-cases.js';

/** Lists only the jobs that hold a lock or a pause now, not every job it keeps state for. */
class ListsLockedJobsOnly extends MemoryLockStore {
  override async listJobs(): Promise<string[]> {
    const listed: string[] = [];
    for (const name of await super.listJobs()) {
      const state = await this.inspect(name);
      if (state.holder !== null || state.paused) {
        listed.push(name);
      }
    }
    return listed;
  }
}

/** Keeps the default of 100 history entries when a release leaves historySize out. */
class KeepsHistoryByDefault extends MemoryLockStore {
  override async release(request: Parameters<MemoryLockStore['release']>[0]): Promise<boolean> {
    return super.release({ ...request, historySize: request.historySize ?? 100 });
  }
}

/** Records a paused acquisition's occurrence in a default history of 100 without historySize. */
class KeepsPausedHistoryByDefault extends MemoryLockStore {
  override async acquire(
    request: Parameters<MemoryLockStore['acquire']>[0],
  ): ReturnType<MemoryLockStore['acquire']> {
    return super.acquire({ ...request, historySize: request.historySize ?? 100 });
  }
}

/**
 * Keeps a job's history when a run is released with the history off: the run reaches the store
 * without the entry to record, so nothing is written, and nothing is dropped either.
 */
class KeepsHistoryWhenOff extends MemoryLockStore {
  override async release(request: Parameters<MemoryLockStore['release']>[0]): Promise<boolean> {
    const outcome = request.outcome;
    if (!outcome || request.historySize !== 0) {
      return super.release(request);
    }
    return super.release({ ...request, outcome: { ...outcome, run: undefined }, historySize: 1 });
  }
}

/** Reports the registered time zone but works out nextAt in UTC, as if it were not there. */
class IgnoresTimeZoneForNextAt extends MemoryLockStore {
  override async inspect(name: string): ReturnType<MemoryLockStore['inspect']> {
    const state = await super.inspect(name);
    if (state.cron === null || state.cron === undefined) {
      return state;
    }
    return { ...state, nextAt: new CronTime(state.cron, 'UTC').sendAt().toMillis() };
  }
}

/** Answers `renewed` to the owner of a plain lock without extending it (a leaner path left out). */
class LeavesPlainLocksUnrenewed extends MemoryLockStore {
  private readonly plainOwners = new Set<string>();

  override async acquire(
    request: Parameters<MemoryLockStore['acquire']>[0],
  ): ReturnType<MemoryLockStore['acquire']> {
    if (request.plain) {
      this.plainOwners.add(request.token);
    }
    return super.acquire(request);
  }

  override async renew(
    request: Parameters<MemoryLockStore['renew']>[0],
  ): ReturnType<MemoryLockStore['renew']> {
    if (
      this.plainOwners.has(request.token) &&
      (await this.inspect(request.name)).ttlLeft !== null
    ) {
      return { renewed: true };
    }
    return super.renew(request);
  }
}

function casesOn(build: () => MemoryLockStore): ReturnType<typeof collectContractCases> {
  return collectContractCases(async () => {
    const store = build();
    return { store, close: () => store.close() };
  });
}

describe('the shipped LockStore contract', () => {
  it.each<[string, string, new () => MemoryLockStore]>([
    [
      'whose listJobs() leaves out the jobs that ran and released their lock',
      'lists every job it holds state for',
      ListsLockedJobsOnly,
    ],
    [
      'that records history for a release without historySize',
      'records nothing with historySize 0 or absent',
      KeepsHistoryByDefault,
    ],
    [
      'that keeps the history recorded before it was turned off',
      'empties the history at the next release of a run with historySize 0, and only then',
      KeepsHistoryWhenOff,
    ],
    [
      'that answers renewed to a plain lock without extending it',
      'renews a plain lock with an owner check',
      LeavesPlainLocksUnrenewed,
    ],
    [
      'that records a paused acquisition in the history without historySize',
      'records the occurrence a paused acquisition claims',
      KeepsPausedHistoryByDefault,
    ],
    [
      "whose nextAt ignores the registered job's time zone",
      'shows the registered cron, time zone and next occurrence',
      IgnoresTimeZoneForNextAt,
    ],
  ])('fails a store %s', async (_store, title, Broken) => {
    expect(
      await contractCase(
        casesOn(() => new MemoryLockStore()),
        title,
      ).run(),
    ).toBeUndefined();
    expect(
      await contractCase(
        casesOn(() => new Broken()),
        title,
      ).run(),
    ).toBeInstanceOf(Error);
  });
});
