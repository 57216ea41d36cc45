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

  start(): void {
    this.armDeadline();
    if (this.autoRenew) {
      this.scheduleRenewal(this.renewEvery);
    }
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
    const result = await this.store.renew({ name: this.name, token: this.token, ttl });
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
