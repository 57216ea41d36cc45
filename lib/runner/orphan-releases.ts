import { isAnswered } from '../stores/capabilities.js';
import type { LockStore } from '../stores/lock-store.interface.js';
import { mapBounded } from '../utils/bounded-map.js';
import { unrefTimer } from '../utils/unref-timer.js';
import type { RunTracker } from './run-tracker.js';

/** Pause before the first round of the releases the store failed; doubled after each failed one. */
const FIRST_RETRY_MS = 250;

/**
 * Longest pause between two rounds: a store that fails fast through a long outage costs a call
 * every 2 s per pending release, and a lock is still freed within about 2 s of the store's return.
 */
const MAX_RETRY_MS = 2_000;

/**
 * Most releases kept to send again at once: past that, the oldest give way, and a lock one of
 * them would have freed expires with its ttl. Bounds what a long outage of a busy app keeps.
 */
const MAX_PENDING = 10_000;

/**
 * Releases of one round in flight at once. A busy app's outage leaves thousands: sent all at once
 * when the store returns, they fill a PostgreSQL pool's queue (10 connections by default), the
 * last ones time out waiting for a connection and are kept again, and the app's own acquisitions,
 * queued behind them, fail as `store-error`. Four leave six of a default pool's connections to
 * the app, as `inspect()` does; one bound for every store, which the runner knows nothing of.
 */
const RELEASES_AT_ONCE = 4;

/**
 * Frees, owner-checked, the locks that acquisitions whose reply was lost may have taken.
 *
 * Such an acquisition may run on the server long after its caller gave up on it: a Redis that froze
 * (a long fork, a VM pause) with the command already in its socket buffer runs it when it resumes,
 * and by then the connection it came on may be gone. A release sent once, while the store was still
 * unreachable, fails, and given up on, that lock would sit there for its whole ttl with nobody
 * running under it. So a failed release is sent again, in rounds (250 ms apart, then up to 2 s
 * apart while they keep failing; a few releases at a time), until the store answers it: an
 * answer, whatever it says, comes after the commands the frozen server held (they were in its
 * buffer first), so the lock is freed, or was never taken. A refusal the store marks `answered`
 * (a permission the user lacks) is such an answer: sent again, it would be refused again, every
 * 2 s for as long as the app runs, one more for each acquisition refused the same way. Nothing
 * here is logged: the store's trouble was reported by the acquisition that failed. Nothing is
 * sent once the app's close let the store answer what was in flight: a client passed in stays
 * open, but the app is gone.
 */
export class OrphanReleases {
  /** Owner token → lock name, oldest first. */
  private readonly pending = new Map<string, string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending = false;
  private delay = FIRST_RETRY_MS;

  constructor(
    private readonly store: LockStore,
    private readonly tracker: RunTracker,
  ) {}

  /** Releases `token`'s lock of `name` now, and again until the store answers. Never throws. */
  free(name: string, token: string): void {
    void this.send(name, token).then((answered) => {
      if (!answered) {
        this.keep(name, token);
      }
    });
  }

  private keep(name: string, token: string): void {
    if (this.tracker.isStoreSettled) {
      return;
    }
    if (this.pending.size >= MAX_PENDING) {
      this.pending.delete(this.pending.keys().next().value!);
    }
    this.pending.set(token, name);
    this.schedule();
  }

  private schedule(): void {
    if (this.sending || this.timer !== undefined || this.pending.size === 0) {
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.retry();
    }, this.delay);
    // A lock left behind expires with its ttl: no reason to keep the process alive for it.
    unrefTimer(this.timer);
  }

  /**
   * One round: every release still pending, {@link RELEASES_AT_ONCE} at a time; those the store
   * answered are done, the others kept for the next round.
   */
  private async retry(): Promise<void> {
    if (this.tracker.isStoreSettled) {
      this.pending.clear();
      return;
    }
    this.sending = true;
    let answered = false;
    await mapBounded([...this.pending], RELEASES_AT_ONCE, async ([token, name]) => {
      // Sent a few at a time, a round can outlast the close's wait for the store, and a release
      // can give way to newer ones while it waits its turn.
      if (this.tracker.isStoreSettled || !this.pending.has(token)) {
        return;
      }
      if (await this.send(name, token)) {
        this.pending.delete(token);
        answered = true;
      }
    });
    this.sending = false;
    if (this.tracker.isStoreSettled) {
      this.pending.clear();
      return;
    }
    this.delay = answered ? FIRST_RETRY_MS : Math.min(2 * this.delay, MAX_RETRY_MS);
    this.schedule();
  }

  /** Whether the store answered (or is closed, and nothing can be sent any more). */
  private async send(name: string, token: string): Promise<boolean> {
    if (this.tracker.isStoreClosed) {
      this.pending.clear();
      return true;
    }
    this.tracker.releaseSent();
    try {
      await this.store.release({ name, token });
      return true;
    } catch (error) {
      return isAnswered(error);
    } finally {
      this.tracker.releaseAnswered();
    }
  }
}
