import type {
  AcquireRequest,
  AcquireResult,
  LockStore,
  RenewRequest,
  RenewResult,
} from './lock-store.interface.js';

/**
 * The store's answer to an acquisition now, or `undefined` when it only answers asynchronously,
 * or when `acquire` is not the one written beside `acquireNow` (see {@link asWritten}).
 */
export function acquireNow(
  store: LockStore,
  request: AcquireRequest,
  joinSameTurn: boolean,
): AcquireResult | undefined {
  return typeof store.acquireNow === 'function' && asWritten(store, 'acquire', 'acquireNow')
    ? store.acquireNow(request, { joinSameTurn })
    : undefined;
}

/**
 * The store's answer to a renewal now, or `undefined` when it only answers asynchronously, or
 * when `renew` is not the one written beside `renewNow` (see {@link asWritten}).
 */
export function renewNow(store: LockStore, request: RenewRequest): RenewResult | undefined {
  return typeof store.renewNow === 'function' && asWritten(store, 'renew', 'renewNow')
    ? store.renewNow(request)
    : undefined;
}

/**
 * Whether `store[method]` and `store[now]` are those of the object in its prototype chain that
 * defines `now`. A subclass that overrides `method` (to fail it, or count it) or a Proxy that
 * wraps the store's methods (tracing, latency) changed what the operation does, and the
 * synchronous form would go round it: such a store is called through `method`, as any other.
 */
function asWritten(
  store: LockStore,
  method: 'acquire' | 'renew',
  now: 'acquireNow' | 'renewNow',
): boolean {
  let owner: object | null = store;
  while (owner !== null && !Object.prototype.hasOwnProperty.call(owner, now)) {
    owner = Object.getPrototypeOf(owner) as object | null;
  }
  const written = owner as Partial<LockStore> | null;
  return written !== null && store[method] === written[method] && store[now] === written[now];
}

/**
 * Whether a renewal error proves that the lock can no longer be confirmed, so that retrying
 * until the deadline is pointless: the store rejected with an error whose `lockLost` is `true`
 * (RedisLockStore does for a `READONLY` reply: the server holding the lock was demoted in a
 * failover). The loss is reported as `unconfirmed`: the lock may or may not have reached the
 * new master, and nobody can confirm it is still ours. Duck-typed rather than `instanceof
 * LockStoreError` on purpose: a store built against the other build of this package (ES module
 * or CommonJS) has its own class.
 */
export function isKnownLost(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { lockLost?: unknown }).lockLost === true
  );
}

/**
 * Whether a store error is its server's answer, a refusal that sending the command again does not
 * change: the error's `answered` is `true` (RedisLockStore's for `NOPERM`, for one). Duck-typed,
 * as {@link isKnownLost}.
 */
export function isAnswered(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { answered?: unknown }).answered === true
  );
}

let turn = 0;
let turnOpen = false;

/**
 * A number that changes at every microtask checkpoint. Two timer callbacks of a real event loop
 * never share one (Node runs microtasks between them); only a fake clock that fires several
 * timers in one synchronous call does. A native promise marks the checkpoint because fake-timer
 * libraries can fake `queueMicrotask` and `process.nextTick` (Jest does) but not promise jobs.
 */
export function synchronousTurn(): number {
  if (!turnOpen) {
    turnOpen = true;
    void Promise.resolve().then(() => {
      turnOpen = false;
      turn += 1;
    });
  }
  return turn;
}
