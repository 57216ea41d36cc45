import type { LockStore, RenewResult } from './interfaces/lock-store.interface.js';

/** How a held lock ended up not being ours any more. */
export type LossReason = 'expired' | 'taken' | 'unconfirmed';

/** What the renewer reports to the interceptor that owns it. */
export interface RenewerHooks {
  renewed(ttl: number): void;
  lost(reason: LossReason): void;
  storeError(error: unknown): void;
}

/** Shortest pause between two renewals, so a tiny ttl cannot turn into a busy loop. */
const MIN_RENEW_EVERY_MS = 20;

/**
 * Whether a renewal error proves that the lock can no longer be confirmed, so that retrying
 * until the deadline is pointless. A store says so by rejecting with an error whose `lockLost`
 * is `true`: RedisLockStore does for a `READONLY` reply (the server holding the lock was demoted
 * in a failover). The loss is reported as `unconfirmed`: the lock may or may not have reached the
 * new master, and nobody can confirm it is still ours.
 */
function provesLockLost(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { lockLost?: unknown }).lockLost === true
  );
}

/**
 * Keeps one acquired lock alive while its job runs: renews about every ttl/3 with an owner
 * check, and declares the lock lost — at once when the store says it is gone or taken, or at
 * the local deadline when no renewal was confirmed in time.
 *
 * Every time is read from the monotonic clock (`performance.now()`): a wall-clock step (NTP,
 * VM resume) must neither hide an expiry nor fake one. The deadline is counted from *before*
 * the command that set the expiry was sent, so it never lies after the server-side expiry.
 * After a freeze (SIGSTOP, a long GC) the first timer that fires finds the deadline passed and
 * reports the loss instead of trusting a lock that may already be someone else's.
 */
export class LockRenewer {
  private deadline: number;
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private isLost = false;

  constructor(
    private readonly store: LockStore,
    private readonly name: string,
    private readonly token: string,
    private ttl: number,
    private readonly autoRenew: boolean,
    acquireSentAt: number,
    private readonly hooks: RenewerHooks,
  ) {
    this.deadline = acquireSentAt + ttl;
  }

  /** Milliseconds between renewals at the current ttl. */
  get renewEvery(): number {
    return Math.max(MIN_RENEW_EVERY_MS, Math.floor(this.ttl / 3));
  }

  /** Whether the lock was declared lost. */
  get lost(): boolean {
    return this.isLost;
  }

  /**
   * Arms one timer, not two: with renewal on, the renew timer fires before the deadline, and
   * the deadline timer is armed only once a renewal is sent (most runs end before ttl/3 and
   * never need it). The renew timer checks the deadline itself, so after a freeze it still
   * reports the loss first, as the deadline timer would have.
   */
  start(): void {
    if (!this.autoRenew) {
      this.armDeadline();
      return;
    }
    const delay = this.renewEvery;
    if (delay >= this.deadline - performance.now()) {
      // A ttl this short (or an acquire this slow) puts the deadline before the first renewal.
      this.armDeadline();
    }
    this.scheduleRenewal(delay);
  }

  /**
   * Extends the lock now to `ttl` and renews at that ttl from then on. Resolves when the store
   * confirmed; rejects with the reason when the lock is no longer ours or the store failed.
   */
  async extend(ttl: number): Promise<RenewResult> {
    if (this.isLost || this.stopped) {
      return { renewed: false, reason: 'expired' };
    }
    const sentAt = performance.now();
    let result: RenewResult;
    try {
      result = await this.store.renew({ name: this.name, token: this.token, ttl });
    } catch (error) {
      if (!this.stopped && provesLockLost(error)) {
        this.declareLost('unconfirmed');
      }
      throw error;
    }
    if (this.stopped || this.isLost) {
      return result.renewed ? { renewed: false, reason: 'expired' } : result;
    }
    if (result.renewed) {
      this.ttl = ttl;
      this.confirmUntil(sentAt + ttl);
      if (this.autoRenew) {
        this.scheduleRenewal(this.renewEvery);
      }
    } else {
      this.declareLost(result.reason);
    }
    return result;
  }

  /** Stops renewing (the run ended, or shutdown gave up on it). Idempotent. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.deadlineTimer);
  }

  private scheduleRenewal(delay: number): void {
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.renewNow(), delay);
    this.renewTimer.unref();
  }

  private async renewNow(): Promise<void> {
    if (this.stopped || this.isLost) {
      return;
    }
    const sentAt = performance.now();
    if (sentAt >= this.deadline) {
      this.declareLost('unconfirmed');
      return;
    }
    if (this.deadlineTimer === undefined) {
      // From the first renewal on, a reply that never comes is caught at the deadline.
      this.armDeadline();
    }
    try {
      const result = await this.store.renew({ name: this.name, token: this.token, ttl: this.ttl });
      if (this.stopped || this.isLost) {
        return;
      }
      if (!result.renewed) {
        this.declareLost(result.reason);
        return;
      }
      this.confirmUntil(sentAt + this.ttl);
      this.hooks.renewed(this.ttl);
      this.scheduleRenewal(this.renewEvery);
    } catch (error) {
      if (this.stopped || this.isLost) {
        return;
      }
      this.hooks.storeError(error);
      if (provesLockLost(error)) {
        this.declareLost('unconfirmed');
        return;
      }
      // Retry sooner than usual, but leave the deadline timer to call it lost if we run out.
      const left = this.deadline - performance.now();
      this.scheduleRenewal(Math.max(MIN_RENEW_EVERY_MS, Math.min(this.renewEvery, left / 3)));
    }
  }

  private confirmUntil(deadline: number): void {
    this.deadline = deadline;
    this.armDeadline();
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const left = Math.max(0, this.deadline - performance.now());
    this.deadlineTimer = setTimeout(() => {
      if (this.stopped || this.isLost) {
        return;
      }
      if (performance.now() < this.deadline) {
        // Timers round to whole milliseconds and may fire a hair early.
        this.armDeadline();
        return;
      }
      // Without renewal the lock has simply run out; with it, nobody confirmed it in time.
      this.declareLost(this.autoRenew ? 'unconfirmed' : 'expired');
    }, left + 1);
    this.deadlineTimer.unref();
  }

  private declareLost(reason: LossReason): void {
    if (this.isLost) {
      return;
    }
    this.isLost = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.deadlineTimer);
    this.hooks.lost(reason);
  }
}
