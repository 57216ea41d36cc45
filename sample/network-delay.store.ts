import type {
  AcquireRequest,
  AcquireResult,
  LockStore,
  ReleaseRequest,
  RenewRequest,
  RenewResult,
  StoredLockState,
} from 'nestjs-cron-lock';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Memory mode only: delays every call to the shared store by a random 0–`maxDelayMs` ms, as a
 * network round trip would. Without it the three apps of one process always tick in the same
 * order and the same app would win every occurrence; with it the winner varies, as in a fleet.
 * It also shows how small a custom {@link LockStore} can be.
 */
export class NetworkDelayStore implements LockStore {
  constructor(
    private readonly store: LockStore,
    private readonly maxDelayMs = 10,
  ) {}

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    await this.delay();
    return this.store.acquire(request);
  }

  async renew(request: RenewRequest): Promise<RenewResult> {
    await this.delay();
    return this.store.renew(request);
  }

  async release(request: ReleaseRequest): Promise<boolean> {
    await this.delay();
    return this.store.release(request);
  }

  inspect(name: string): Promise<StoredLockState> {
    return this.store.inspect(name);
  }

  ping(): Promise<number> {
    return this.store.ping();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  private delay(): Promise<void> {
    return sleep(Math.random() * this.maxDelayMs);
  }
}
