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
