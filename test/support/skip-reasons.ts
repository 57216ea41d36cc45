import type { SkipReason } from '../../lib/observer/events.js';

/**
 * Every reason a skip can give, for the tests that check a list in the docs against it. A record
 * rather than an array: a reason added to the type and not here is a type error.
 */
export const SKIP_REASONS = Object.keys({
  held: true,
  'tick-done': true,
  paused: true,
  'store-error': true,
  'shutting-down': true,
  queued: true,
  merged: true,
} satisfies Record<SkipReason, true>) as SkipReason[];
