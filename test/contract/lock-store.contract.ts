import {
  describeLockStoreContract as describeWith,
  newLockToken,
  type LockStoreFixture,
} from 'nestjs-cron-lock/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

export type { LockStoreFixture };

/** A fresh owner token, shaped like the ones the runner creates. */
export const newToken = newLockToken;

/** The shipped LockStore contract suite, run under Vitest. */
export function describeLockStoreContract(
  label: string,
  factory: () => Promise<LockStoreFixture>,
): void {
  describeWith(label, factory, { describe, it, expect, beforeEach, afterEach });
}
