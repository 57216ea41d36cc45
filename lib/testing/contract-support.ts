import { randomBytes } from 'node:crypto';
import type { ContractTestApi } from './lock-store-contract.js';

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

/**
 * The timeout each contract case and hook asks the runner for. Vitest's and Jest's default (5 s)
 * is less than the suite's own waits (an expiry polled for up to 10 s) and than its concurrency
 * cases take on a correct store a few tens of ms away, which the default would cut off as failed.
 */
export const CONTRACT_CASE_TIMEOUT_MS = 30_000;

/** `test` with {@link CONTRACT_CASE_TIMEOUT_MS} passed to every case and hook it registers. */
export function withCaseTimeout(test: ContractTestApi): ContractTestApi {
  const { it, beforeEach, afterEach } = test;
  return {
    ...test,
    it: (name, body, timeout) => it(name, body, timeout ?? CONTRACT_CASE_TIMEOUT_MS),
    beforeEach: (body, timeout) => beforeEach(body, timeout ?? CONTRACT_CASE_TIMEOUT_MS),
    afterEach: (body, timeout) => afterEach(body, timeout ?? CONTRACT_CASE_TIMEOUT_MS),
  };
}
