import { AsyncLocalStorage } from 'node:async_hooks';
import { NotLockedError } from '../cron-lock.errors.js';
import {
  ASYNC_CONTEXT_OFF,
  LOCKED_RUN_ENDED,
  NOT_LOCKED,
  RUNNING_UNLOCKED,
} from '../cron-lock.messages.js';
import { processWide } from '../utils/process-wide.js';
import type { LockContext } from './lock-context.interface.js';

/**
 * One run of a job, as seen by the code it calls (internal: the runner opens one around
 * every job's function and ends it when the run ends).
 */
export class RunScope {
  private active = true;

  constructor(
    readonly ctx: LockContext,
    /** `false` for a run that `onStoreError: 'run'` started without the lock. */
    readonly locked: boolean,
    /** `false` for a run of an app with `asyncContext` off (see {@link openRunScope}). */
    readonly tracked = true,
  ) {}

  /** Runs `fn` inside this run: it follows every `await`, promise and timer `fn` starts. */
  run<T>(fn: () => T): T {
    return runScopes.run(this, fn);
  }

  /** The run is over: a timer or promise it left behind no longer counts as locked. */
  end(): void {
    this.active = false;
  }

  get isActive(): boolean {
    return this.active;
  }
}

/**
 * The run each piece of code belongs to, so that {@link assertLocked} needs no argument passed
 * down through the job's calls.
 */
const runScopes = processWide('run-scopes', () => new AsyncLocalStorage<RunScope>());

/** Whether some app of this process opens run scopes (`asyncContext: true`). */
const scopes = processWide('run-scopes-enabled', () => ({ enabled: false }));

/**
 * Called by a runner whose module has `asyncContext: true`, so that {@link assertLocked}
 * can tell "not under a lock" from "runs are not tracked at all".
 */
export function enableRunScopes(): void {
  scopes.enabled = true;
}

/**
 * The scope a runner enters for a run: a tracked one with `asyncContext` on; otherwise none, unless
 * another app of the process tracks its runs. Then an untracked one, so that assertLocked() in
 * this app's run says `asyncContext` is off here (the fix), not that the code runs outside a lock.
 * Async hooks are on in the process by then, so it costs this app next to nothing more.
 */
export function openRunScope(
  asyncContext: boolean,
  ctx: LockContext,
  locked: boolean,
): RunScope | null {
  if (asyncContext) {
    return new RunScope(ctx, locked);
  }
  return scopes.enabled ? new RunScope(ctx, locked, false) : null;
}

/**
 * The {@link LockContext} of the locked run the calling code belongs to (also across `await`s
 * and in functions it calls), or `undefined` outside of one. In a run that `onStoreError: 'run'`
 * started without its lock, it is that run's context (its `fencingToken` is 0). Always
 * `undefined` unless the module option `asyncContext` is on in the app whose run it is.
 *
 * @publicApi
 */
export function currentLockContext(): LockContext | undefined {
  const scope = runScopes.getStore();
  return scope?.isActive && scope.tracked ? scope.ctx : undefined;
}

/**
 * Guards code that must only run under its job's lock, e.g. a write that must not happen twice:
 *
 * ```ts
 * async saveTotals(totals: Totals) {
 *   const { fencingToken } = assertLocked();
 *   await this.db.query('UPDATE totals SET data = $1, fence = $2 WHERE fence < $2', [totals, fencingToken]);
 * }
 * ```
 *
 * @returns the {@link LockContext} of the locked run the calling code belongs to (across
 *   `await`s and nested calls).
 * Needs the module option `asyncContext: true` (off by default, for its cost on Node 20 and 22)
 * in the app whose run it is.
 *
 * @throws {@link NotLockedError} outside a locked run, in a run started without its lock
 *   (`onStoreError: 'run'`), after the run ended, or when `asyncContext` is off; the signal's reason
 *   ({@link LockLostError}, {@link ShutdownTimeoutError}) once the run's signal has aborted.
 * @publicApi
 */
export function assertLocked(): LockContext {
  const scope = runScopes.getStore();
  if (!scope?.tracked) {
    throw scopes.enabled && !scope
      ? new NotLockedError('outside', null, NOT_LOCKED())
      : new NotLockedError('disabled', null, ASYNC_CONTEXT_OFF());
  }
  const { ctx } = scope;
  if (!scope.isActive) {
    throw new NotLockedError('ended', ctx.name, LOCKED_RUN_ENDED(ctx.name));
  }
  if (!scope.locked) {
    throw new NotLockedError('unlocked', ctx.name, RUNNING_UNLOCKED(ctx.name));
  }
  ctx.signal.throwIfAborted();
  return ctx;
}
