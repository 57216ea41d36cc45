import { randomBytes } from 'node:crypto';

/* What the contract suites share: owner tokens and the waits of their concurrency cases. */

/** A fresh owner token, shaped like the ones the runner creates. */
export function newLockToken(): string {
  return randomBytes(16).toString('hex');
}

/** Lets the event loop turn once, so that interleaved calls really interleave. */
export const tinyYield = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Waits a random 0 to `maxMs` ms. */
export const sleepUpTo = (maxMs: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * (maxMs + 1))));
