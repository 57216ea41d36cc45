import type { LockStore, LossReason, RenewResult } from '../stores/lock-store.interface.js';
import { isKnownLost, renewNow as answeredAtOnce } from '../stores/capabilities.js';
import { MAX_DURATION_MS } from '../utils/duration.js';
import { unrefTimer } from '../utils/unref-timer.js';
import { cancelRenewal, scheduleRenewal, type RenewalSlot } from './renewal-clock.js';

/** What the renewer reports to the runner that owns it. */
export interface RenewerHooks {
  renewed(ttl: number): void;
  lost(reason: LossReason): void;
  storeError(error: unknown): void;
  /** A later occurrence (`overlap: 'replace'`) asked this run to stop; called once. */
  replaced?(): void;
}

/** Shortest pause between two renewals, so a tiny ttl cannot turn into a busy loop. */
const MIN_RENEW_EVERY_MS = 20;

/** What an extend() came back with: the store's answer, or the loss the run was told of. */
type Extended = RenewResult | { renewed: false; reason: LossReason };

/** What one renew command came back with: the store's answer, or the error it failed with. */
type Sent = { result: RenewResult } | { error: unknown };

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
 *
 * Renewals and `extend()` calls of one run are serialised: one renew command is in flight at a
 * time, and each reply is booked with the ttl that its own request sent. With two in flight, the
 * server keeps the expiry of whichever it ran last, and nothing in the replies says which: a
 * 3 s renewal that overtook a 60 s extend left the lock to expire after 3 s while the run
 * believed it had 60.
 */
export class LockRenewer {
  private deadline: number;
  /** Where the next renewal waits (see renewal-clock.ts); `undefined` when none is scheduled. */
  private renewSlot: RenewalSlot | undefined;
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private isLost = false;
  /** Why the lock was declared lost: what a later extend() answers, as the run was told. */
  private lostReason: LossReason = 'expired';
  /** The run was told it is replaced (it keeps renewing until it returns). */
  private replacedTold = false;
  /** Settles when the renew command in flight was answered and booked; `null` when none is. */
  private inFlight: Promise<void> | null = null;

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

  /**
   * Arms one timer, not two: with renewal on, the renew timer fires before the deadline, and
   * the deadline timer is armed only once a renewal is sent (most runs end before ttl/3 and
   * never need it). The renew timer checks the deadline itself, so after a freeze it still
   * reports the loss first, as the deadline timer would have. `now`: the monotonic time, when the
   * caller has just read it.
   */
  start(now = performance.now()): void {
    if (!this.autoRenew) {
      this.armDeadline();
      return;
    }
    const delay = this.renewEvery;
    if (delay >= this.deadline - now) {
      // A ttl this short (or an acquire this slow) puts the deadline before the first renewal.
      this.armDeadline();
    }
    this.scheduleRenewal(delay);
  }

  /**
   * Extends the lock to `ttl` and, with renewal on, renews at that ttl from then on. Waits for a
   * renewal already in flight, then sends. Resolves when the store answered (`renewed: false`
   * with the reason when the lock is no longer ours; once the lock was declared lost, the reason
   * the run was told, without a command); rejects when the store failed.
   */
  async extend(ttl: number): Promise<Extended> {
    while (this.inFlight !== null) {
      await this.inFlight;
    }
    if (this.isLost || this.stopped) {
      return { renewed: false, reason: this.isLost ? this.lostReason : 'expired' };
    }
    // This request replaces the renewal that was due; the next one is scheduled from its reply.
    this.cancelRenewal();
    const sent = await this.send(ttl);
    if (this.stopped || this.isLost) {
      if ('error' in sent) {
        throw sent.error;
      }
      return sent.result.renewed
        ? { renewed: false, reason: this.isLost ? this.lostReason : 'expired' }
        : sent.result;
    }
    if ('error' in sent) {
      if (isKnownLost(sent.error)) {
        this.declareLost('unconfirmed');
      } else {
        this.scheduleRetry();
      }
      throw sent.error;
    }
    if (this.autoRenew) {
      this.scheduleRenewal(this.renewEvery);
    }
    return sent.result;
  }

  /**
   * Declares the lock lost now if its deadline passed unconfirmed, as the deadline timer would on
   * its next turn: for a caller that cannot wait for that turn, because the job blocked the event
   * loop (or the process was frozen) past the deadline and no timer has run since. `now`: the
   * monotonic time, when the caller has just read it.
   */
  checkDeadline(now = performance.now()): void {
    if (!this.stopped && !this.isLost && now >= this.deadline) {
      this.declareLost(this.autoRenew ? 'unconfirmed' : 'expired');
    }
  }

  /** Stops renewing (the run ended, or shutdown gave up on it). Idempotent. */
  stop(): void {
    this.stopped = true;
    this.cancelRenewal();
    clearTimeout(this.deadlineTimer);
  }

  private scheduleRenewal(delay: number): void {
    this.cancelRenewal();
    this.renewSlot = scheduleRenewal(this, delay);
  }

  private cancelRenewal(): void {
    if (this.renewSlot !== undefined) {
      cancelRenewal(this.renewSlot, this);
      this.renewSlot = undefined;
    }
  }

  /** Called by the renewal clock when the scheduled renewal is due. */
  renewDue(): void {
    this.renewSlot = undefined;
    void this.renewNow();
  }

  /** After a store error: retry sooner than usual; the deadline timer calls it lost if we run out. */
  private scheduleRetry(): void {
    if (!this.autoRenew) {
      return;
    }
    const left = this.deadline - performance.now();
    this.scheduleRenewal(Math.max(MIN_RENEW_EVERY_MS, Math.min(this.renewEvery, left / 3)));
  }

  private renewNow(): void | Promise<void> {
    if (this.stopped || this.isLost || this.inFlight !== null) {
      // An extend in flight schedules the next renewal from its own reply.
      return;
    }
    if (performance.now() >= this.deadline) {
      this.declareLost('unconfirmed');
      return;
    }
    const ttl = this.ttl;
    const sent = this.send(ttl);
    // A store that answers at once (in memory) is booked in this timer callback, and the next
    // renewal armed in it: see LockStore.renewNow.
    return sent instanceof Promise
      ? sent.then((answer) => this.renewAnswered(ttl, answer))
      : this.renewAnswered(ttl, sent);
  }

  private renewAnswered(ttl: number, sent: Sent): void {
    if (this.stopped || this.isLost) {
      return;
    }
    if ('error' in sent) {
      this.hooks.storeError(sent.error);
      if (isKnownLost(sent.error)) {
        this.declareLost('unconfirmed');
        return;
      }
      this.scheduleRetry();
      return;
    }
    this.hooks.renewed(ttl);
    this.scheduleRenewal(this.renewEvery);
  }

  /**
   * Sends one renew command at `ttl` and books its answer; the only place that talks to the
   * store, so that one command at most is in flight. A confirmed reply moves the deadline to
   * `sentAt + ttl` of this very request: being the only one in flight, it is the one that set
   * the server's expiry. Before the reply the deadline can only move earlier: if the command
   * ran, the server's expiry is now at least `sentAt + ttl`; if not, it is the old one. A store
   * that answers synchronously (`renewNow`) is booked before this returns, with nothing in flight.
   */
  private send(ttl: number): Sent | Promise<Sent> {
    const sentAt = performance.now();
    if (sentAt + ttl < this.deadline) {
      this.deadline = sentAt + ttl;
    }
    // From the first command on, a reply that never comes is caught at the deadline.
    this.armDeadline();
    const request = { name: this.name, token: this.token, ttl };
    try {
      const answer = answeredAtOnce(this.store, request);
      if (answer !== undefined) {
        return this.book(ttl, sentAt, answer);
      }
    } catch (error) {
      return { error };
    }
    return this.sendAsync(ttl, sentAt, request);
  }

  private async sendAsync(
    ttl: number,
    sentAt: number,
    request: { name: string; token: string; ttl: number },
  ): Promise<Sent> {
    let settle!: () => void;
    this.inFlight = new Promise<void>((resolve) => (settle = resolve));
    try {
      return this.book(ttl, sentAt, await this.store.renew(request));
    } catch (error) {
      return { error };
    } finally {
      this.inFlight = null;
      settle();
    }
  }

  /** Books the store's answer to the renewal sent at `sentAt` with `ttl`. */
  private book(ttl: number, sentAt: number, result: RenewResult): Sent {
    if (this.stopped || this.isLost) {
      return { result };
    }
    if (result.renewed) {
      this.ttl = ttl;
      this.confirmUntil(sentAt + ttl);
      if (result.replaced && !this.replacedTold) {
        this.replacedTold = true;
        this.hooks.replaced?.();
      }
    } else {
      this.declareLost(result.reason);
    }
    return { result };
  }

  private confirmUntil(deadline: number): void {
    this.deadline = deadline;
    this.armDeadline();
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const left = Math.max(0, this.deadline - performance.now());
    // At the longest ttl, `left + 1` is past what a timer holds, and Node would fire it after 1 ms
    // with a warning: capped, it may fire early, and then re-arms below.
    const delay = Math.min(left + 1, MAX_DURATION_MS);
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
    }, delay);
    unrefTimer(this.deadlineTimer);
  }

  private declareLost(reason: LossReason): void {
    if (this.isLost) {
      return;
    }
    this.isLost = true;
    this.lostReason = reason;
    this.cancelRenewal();
    clearTimeout(this.deadlineTimer);
    this.hooks.lost(reason);
  }
}
