import type { LockRenewer } from './renewer.js';

/** The lock a run holds: its owner token, fencing token, when it was asked for, its renewer. */
export interface HeldLock {
  token: string;
  fencingToken: number;
  /** When the acquisition was sent (`performance.now()`): `minHold` counts from it. */
  sentAt: number;
  renewer: LockRenewer;
  /** The occurrences this run's acquisition found missed, for the release (job history). */
  missed: number[] | undefined;
}

/**
 * The run's duration, read as its job settles. A lock whose deadline passed unconfirmed is declared
 * lost first: a job that blocked the event loop past its ttl ends before any timer of its renewer
 * can fire, and its outcome, log line and `lost` event must say so, as the timer would have.
 */
export function settledRun(lock: HeldLock | null, startedAt: number): number {
  const now = performance.now();
  lock?.renewer.checkDeadline(now);
  return now - startedAt;
}
