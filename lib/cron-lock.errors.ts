import type { LossReason } from './stores/lock-store.interface.js';

/**
 * Base class of every error the module throws on purpose.
 *
 * @publicApi
 */
export class CronLockError extends Error {
  override name = 'CronLockError';

  /**
   * `instanceof` that also holds for an error of the package's other build (ES module or
   * CommonJS) loaded in the same process: each build defines its own classes, and an error the
   * module of one build throws reaches code compiled against the other (a CommonJS library of
   * jobs in an ES module app). The classes carry a registered-symbol brand naming them, which
   * both builds read; a subclass of the user's own has none and is matched by its class only.
   */
  static override [Symbol.hasInstance]<T>(
    this: abstract new (...args: never[]) => T,
    value: unknown,
  ): value is T {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    const brand = ownBrand(this);
    if (brand === undefined || typeof value !== 'object' || value === null) return false;
    for (let proto: object | null = Object.getPrototypeOf(value); proto !== null;) {
      const owner: unknown = Object.hasOwn(proto, 'constructor')
        ? (proto as { constructor: unknown }).constructor
        : undefined;
      if (owner !== undefined && ownBrand(owner) === brand) return true;
      proto = Object.getPrototypeOf(proto) as object | null;
    }
    return false;
  }
}

/** Key of the brand on each error class: registered, so both builds read one key. */
const ERROR_CLASS = Symbol.for('nestjs-cron-lock.v1.error-class');

/** The brand `type` itself carries (not one it inherits), if any. */
function ownBrand(type: unknown): unknown {
  return typeof type === 'function' && Object.hasOwn(type, ERROR_CLASS)
    ? (type as unknown as Record<symbol, unknown>)[ERROR_CLASS]
    : undefined;
}

/**
 * A misconfiguration found at bootstrap (`app.init()` rejects with it). Its message names the
 * job as `Class.method` and says how to fix it.
 *
 * @publicApi
 */
export class CronLockConfigError extends CronLockError {
  override name = 'CronLockConfigError';
}

/**
 * The lock of a running job is no longer ours: it expired, was taken, or could not be confirmed
 * before it would expire. `ctx.signal` aborts with it.
 *
 * @publicApi
 */
export class LockLostError extends CronLockError {
  override name = 'LockLostError';
  constructor(
    /** The job whose lock was lost. */
    readonly lockName: string,
    /** Why: `expired`, `taken`, `unconfirmed` (the store did not answer before expiry). */
    readonly reason: LossReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A job was still running when `shutdownTimeout` ran out on `app.close()`; `ctx.signal` aborts with it.
 *
 * @publicApi
 */
export class ShutdownTimeoutError extends CronLockError {
  override name = 'ShutdownTimeoutError';
  constructor(
    readonly lockName: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A later occurrence of a job with `overlap: 'replace'` asked the running one to stop:
 * `ctx.signal` aborts with it within one renew interval. The run keeps its lock until it returns
 * (or the lock expires), and only then does the new occurrence run.
 *
 * @publicApi
 */
export class ReplacedError extends CronLockError {
  override name = 'ReplacedError';
  constructor(
    /** The job whose run was replaced. */
    readonly lockName: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The lock store failed (unreachable, timed out, server error). Its message is redacted:
 * no URL credentials, no password, no full token.
 *
 * @publicApi
 */
export class LockStoreError extends CronLockError {
  override name = 'LockStoreError';
  /** The store knows the lock it was asked about is lost (see `LockStore.renew`). */
  readonly lockLost: boolean;
  /**
   * The store's server read the command and refused it for a reason that sending it again does
   * not change (a permission the user lacks, for one): an answer, after everything sent to it
   * before. `false` when no answer came (a timeout, a lost connection) or the server is in a
   * passing state. A store sets it; the module then sends no release again for that lock (see
   * `LockStore.release`).
   */
  readonly answered: boolean;
  constructor(message: string, options: { lockLost?: boolean; answered?: boolean } = {}) {
    super(message);
    this.lockLost = options.lockLost ?? false;
    this.answered = options.answered ?? false;
  }
}

/**
 * The lock store refused an occurrence: `scheduledAt` is not a whole number of ms since epoch
 * (`invalid`), or lies more than 15 minutes ahead of the store's clock (`ahead`: this instance's
 * clock is wrong, or the value is in µs or s). Nothing was claimed or locked; the run is skipped
 * as a store error, also with `onStoreError: 'run'`.
 *
 * @publicApi
 */
export class ScheduledAtRefusedError extends LockStoreError {
  override name = 'ScheduledAtRefusedError';
  constructor(
    /** Why: not a whole number of ms (`invalid`), or too far ahead of the store's clock (`ahead`). */
    readonly reason: 'invalid' | 'ahead',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Thrown by {@link assertLocked} when the calling code does not run under a held cron lock:
 * outside any locked run (`outside`), in a run that `onStoreError: 'run'` started without its
 * lock (`unlocked`), after the locked run that started it ended (`ended`), or because
 * `asyncContext` is off (`disabled`): in no `CronLockModule` of this process, or in the module of
 * the app whose run it is, while another app of the process has it on.
 *
 * @publicApi
 */
export class NotLockedError extends CronLockError {
  override name = 'NotLockedError';
  constructor(
    /** Why the code is not under a lock. */
    readonly reason: 'outside' | 'unlocked' | 'ended' | 'disabled',
    /** The job the code belongs to, when it belongs to one. */
    readonly lockName: string | null,
    message: string,
  ) {
    super(message);
  }
}

// The brands `CronLockError[Symbol.hasInstance]` reads: written out, as a bundler that renames
// classes would make their `name` differ between the builds.
const BRANDS: [type: object, brand: string][] = [
  [CronLockError, 'CronLockError'],
  [CronLockConfigError, 'CronLockConfigError'],
  [LockLostError, 'LockLostError'],
  [ShutdownTimeoutError, 'ShutdownTimeoutError'],
  [ReplacedError, 'ReplacedError'],
  [LockStoreError, 'LockStoreError'],
  [ScheduledAtRefusedError, 'ScheduledAtRefusedError'],
  [NotLockedError, 'NotLockedError'],
];
for (const [type, brand] of BRANDS) {
  Object.defineProperty(type, ERROR_CLASS, { value: brand });
}
