import { unrefTimer } from '../utils/unref-timer.js';

/** A renewal waiting for its time: what the clock calls when it is due. */
export interface DueRenewal {
  renewDue(): void;
}

/** Renewals armed together with one delay, and the one timer that starts them. */
export interface RenewalSlot {
  readonly delay: number;
  readonly renewals: Set<DueRenewal>;
  /** The `setTimeout` that armed the slot: a slot is joined only under the same one. */
  readonly arm: typeof setTimeout;
  /** `Date.now()` when armed: a slot is joined only in the same millisecond. */
  readonly armedAt: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** The slots armed in this turn, by delay; emptied at the turn's end (see closeTurn). */
const open = new Map<number, RenewalSlot>();

/** Settled once: each turn's end is queued on it. */
const SETTLED = Promise.resolve();

/**
 * Schedules `renewal` in `delay` ms and returns the slot it waits in (for {@link cancelRenewal}).
 * Renewals armed with the same delay in the same turn share one timer.
 *
 * Runs that started together renew together: their replies come back in one read, and each arms
 * its next renewal with the same delay in the same turn. With a timer each, Node runs the promise
 * jobs between two timers' callbacks, so every renewal was a turn of its own and its command a
 * socket write of its own. One timer starts them in one turn, and their commands share one write
 * (see `evalshaBatched`).
 *
 * No renewal starts later than its own timer would have. Node counts a timer from the loop's
 * clock as read when it is armed, so one armed later in the turn would have fallen due a little
 * later than the slot's timer: a slot is joined only within the millisecond of `Date.now()` it
 * was armed in, which bounds how much sooner a renewal may start to about a millisecond (with a
 * mocked `Date`, to the length of the turn). A renewal sent sooner extends the lease from
 * sooner: no guarantee rests on its being late. The turn is the one `evalshaBatched` batches
 * by: it ends in a promise job queued by its first slot, which no fake-timer library holds back.
 * Only Node's own timers are shared, and only under the `setTimeout` that armed them: under a
 * fake clock every renewal keeps a timer of its own, as before.
 */
export function scheduleRenewal(renewal: DueRenewal, delay: number): RenewalSlot {
  const armedAt = Date.now();
  let slot = open.get(delay);
  if (slot === undefined || slot.arm !== setTimeout || slot.armedAt !== armedAt) {
    const timer = unrefTimer(setTimeout(() => fire(created), delay));
    const created: RenewalSlot = {
      delay,
      renewals: new Set(),
      arm: setTimeout,
      armedAt,
      timer,
    };
    // Only Node's own timers are shared: a fake clock's slot is never joined (see isNodeTimer).
    if (isNodeTimer(timer)) {
      if (open.size === 0) {
        void SETTLED.then(closeTurn);
      }
      open.set(delay, created);
    }
    slot = created;
  }
  slot.renewals.add(renewal);
  return slot;
}

/** Takes `renewal` out of `slot`; the slot's timer goes with its last renewal. Idempotent. */
export function cancelRenewal(slot: RenewalSlot, renewal: DueRenewal): void {
  if (!slot.renewals.delete(renewal) || slot.renewals.size > 0) {
    return;
  }
  clearTimeout(slot.timer);
  leave(slot);
}

// Map#clear() gives the map a new table even when it is empty, which it usually is here: a run
// whose renewal was cancelled in its own turn (a short job) has left its slot already.
function closeTurn(): void {
  if (open.size > 0) {
    open.clear();
  }
}

/**
 * A timer of Node's own `setTimeout`, which counts from the loop's clock; a fake clock's timer
 * (any fake-timer library's object, or a number) is not. A fake clock may be advanced by the test
 * between two renewals of one turn while neither `Date` nor the turn shows it, so its renewals
 * keep a timer each, as before. Read from a field Node's timers have long had: should it go,
 * renewals keep a timer each (slower, never wrong).
 */
function isNodeTimer(timer: unknown): boolean {
  return typeof (timer as { _idleStart?: unknown } | null)?._idleStart === 'number';
}

/** A slot emptied or fired is joined no more. */
function leave(slot: RenewalSlot): void {
  if (open.get(slot.delay) === slot) {
    open.delete(slot.delay);
  }
}

/**
 * Starts the slot's renewals in one turn. One that throws does not keep the others from
 * starting; its error is thrown afterwards, from the timer, as its own timer's would be (several,
 * as one `AggregateError`).
 */
function fire(slot: RenewalSlot): void {
  // First: a renewal armed again by one started here gets a slot (and a timer) of its own.
  leave(slot);
  const errors: unknown[] = [];
  // Taken out one by one: a renewal cancelled by an earlier one's hooks is not started.
  for (const renewal of slot.renewals) {
    slot.renewals.delete(renewal);
    try {
      renewal.renewDue();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length === 1) {
    throw errors[0];
  }
  if (errors.length > 1) {
    throw new AggregateError(errors, `${errors.length} renewals of one timer threw`);
  }
}
