/* What the instance that took a trigger request logs (`cron-lock.messages.ts` is at its line limit). */
import type { SkipReason } from '../observer/events.js';

export const TRIGGER_TAKEN = (name: string, forced: boolean): string =>
  `${name}: triggered${forced ? ' (forced)' : ''}, running it on this instance`;

/** Why the lock refused a manual run; a trigger never asks for `tick-done`, `queued`, `merged`. */
const REFUSED_BECAUSE: Record<SkipReason, string> = {
  paused: 'the job is paused (trigger it with force to run it anyway)',
  held: 'another run of the job holds its lock (trigger again once it ended)',
  'store-error': 'the lock store failed (the error has its own line)',
  'shutting-down': 'this instance is shutting down',
  'tick-done': 'its occurrence already ran',
  queued: 'another run holds the lock',
  merged: 'another run holds the lock',
};

/** The instance took the request (the claim) but the lock refused the run: nothing ran. */
export const TRIGGER_REFUSED = (name: string, reason: SkipReason): string =>
  `${name}: trigger refused, not run: ${REFUSED_BECAUSE[reason]}`;

/**
 * `trigger()` was called before the binding, no instance took it, and the jobs were still not
 * bound at its timeout.
 */
export const TRIGGER_BEFORE_BOUND = (call: string, timeout: number): string =>
  `${call}: no instance took the request within ${timeout}ms (the call's timeout), and CronLockModule had not bound this app's jobs by then, so this instance could not take it either. It binds them in its onModuleInit, which Nest runs only once every constructor and factory, and the onModuleInit of each module it initialises first, has returned: a trigger() awaited there waits for itself. Call it from onApplicationBootstrap or later, or do not await it there.`;
