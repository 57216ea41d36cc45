import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  cancelRenewal,
  scheduleRenewal,
  type DueRenewal,
  type RenewalSlot,
} from '../../lib/runner/renewal-clock.js';

/** A renewal that records when it started, by name, into `log`. */
function renewal(log: string[], name: string, onDue?: () => void): DueRenewal {
  return {
    renewDue: () => {
      log.push(name);
      onDue?.();
    },
  };
}

/**
 * `Date.now()` stands still and the timers are Node's own (unless `timers` fakes them too), so
 * renewals armed in one turn are armed in one millisecond, as the runs whose renewals are armed
 * from one read.
 */
function stillDate(timers: ('setTimeout' | 'clearTimeout')[] = []): void {
  vi.useFakeTimers({ toFake: ['Date', ...timers], now: 1_700_000_000_000 });
}

/** Lets the current turn end: the promise job that closes its slots was queued before this one. */
async function nextTurn(): Promise<void> {
  await Promise.resolve();
}

const waitUntil = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 5 });

/**
 * Arms Node's own timers through a spy that keeps each timer's callback, so a test can start a
 * slot by hand (and see what it throws) without waiting for it.
 */
function keptCallbacks(): (() => void)[] {
  const realSetTimeout = setTimeout;
  const callbacks: (() => void)[] = [];
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: () => void, ms: number) => {
    callbacks.push(callback);
    return realSetTimeout(() => undefined, ms);
  }) as typeof setTimeout);
  return callbacks;
}

describe('the renewal clock', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('starts the renewals armed with one delay in one turn together, before any promise job', async () => {
    stillDate();
    const log: string[] = [];
    const first = renewal(log, 'first', () => void Promise.resolve().then(() => log.push('job')));
    const slot = scheduleRenewal(first, 30);
    expect(scheduleRenewal(renewal(log, 'second'), 30)).toBe(slot);
    expect(scheduleRenewal(renewal(log, 'other delay'), 31)).not.toBe(slot);
    await waitUntil(() => expect(log).toContain('job'));
    expect(log.slice(0, 3)).toEqual(['first', 'second', 'job']);
    await waitUntil(() => expect(log).toContain('other delay'));
  });

  it('gives a renewal armed in a later turn, or a later millisecond, a timer of its own', async () => {
    stillDate();
    const log: string[] = [];
    const slot = scheduleRenewal(renewal(log, 'first'), 30);
    await nextTurn();
    const later = scheduleRenewal(renewal(log, 'next turn'), 30);
    expect(later).not.toBe(slot);
    vi.setSystemTime(Date.now() + 1);
    const nextMs = scheduleRenewal(renewal(log, 'next millisecond'), 30);
    expect(nextMs).not.toBe(later);
    await waitUntil(() => expect(log).toHaveLength(3));
    expect([...log].sort()).toEqual(['first', 'next millisecond', 'next turn']);
  });

  it("never shares a fake clock's timer: a renewal armed after the test advanced it starts on time", () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const log: string[] = [];
    const first = scheduleRenewal(renewal(log, 'first'), 100);
    vi.advanceTimersByTime(50);
    const second = scheduleRenewal(renewal(log, 'second'), 100);
    expect(second).not.toBe(first);
    vi.advanceTimersByTime(50);
    expect(log).toEqual(['first']);
    vi.advanceTimersByTime(49);
    expect(log).toEqual(['first']);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['first', 'second']);
  });

  it("gives each renewal a timer of its own when setTimeout returns an integer id, as jsdom's does", async () => {
    stillDate();
    const realSetTimeout = setTimeout;
    const realClearTimeout = clearTimeout;
    const handles = new Map<number, NodeJS.Timeout>();
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: () => void, ms: number) => {
      const id = handles.size + 1;
      handles.set(id, realSetTimeout(callback, ms));
      return id;
    }) as unknown as typeof setTimeout);
    const cleared = vi
      .spyOn(globalThis, 'clearTimeout')
      .mockImplementation((id) => realClearTimeout(handles.get(id as unknown as number)));
    const log: string[] = [];
    const kept = scheduleRenewal(renewal(log, 'kept'), 30);
    const dropped = renewal(log, 'cancelled');
    const slot = scheduleRenewal(dropped, 30);
    expect(slot).not.toBe(kept);
    expect([typeof kept.timer, typeof slot.timer]).toEqual(['number', 'number']);
    cancelRenewal(slot, dropped);
    expect(cleared).toHaveBeenCalledWith(slot.timer);
    // Armed last with the same delay: fires after the cancelled renewal's timer would have.
    let after = false;
    realSetTimeout(() => (after = true), 30);
    await waitUntil(() => expect(after).toBe(true));
    expect(log).toEqual(['kept']);
  });

  it('starts a renewal after its delay, as its own timer would', async () => {
    const asked = performance.now();
    let startedAt = 0;
    scheduleRenewal({ renewDue: () => (startedAt = performance.now()) }, 40);
    await waitUntil(() => expect(startedAt).toBeGreaterThan(0));
    // Node's timers count from a clock read in whole milliseconds, so they may start up to a
    // millisecond or two before their delay on the monotonic clock.
    expect(startedAt - asked).toBeGreaterThanOrEqual(38);
  });

  it('starts a renewal that joined a slot no later than a timer of its own armed with it', async () => {
    stillDate();
    const log: string[] = [];
    const slot = scheduleRenewal(renewal(log, 'first'), 30);
    expect(scheduleRenewal(renewal(log, 'joined'), 30)).toBe(slot);
    // Armed after the renewal joined, with the same delay: what the renewal's own timer was.
    setTimeout(() => log.push('own timer'), 30);
    await waitUntil(() => expect(log).toContain('own timer'));
    expect(log).toEqual(['first', 'joined', 'own timer']);
  });

  it('does not start a cancelled renewal, and clears the timer with the last one', async () => {
    stillDate();
    const cleared = vi.spyOn(globalThis, 'clearTimeout');
    const log: string[] = [];
    const kept = renewal(log, 'kept');
    const dropped = renewal(log, 'dropped');
    const slot = scheduleRenewal(kept, 30);
    expect(scheduleRenewal(dropped, 30)).toBe(slot);
    cancelRenewal(slot, dropped);
    cancelRenewal(slot, dropped);
    expect(cleared).not.toHaveBeenCalled();
    await waitUntil(() => expect(log).toEqual(['kept']));

    const alone = scheduleRenewal(dropped, 30);
    cancelRenewal(alone, dropped);
    expect(cleared).toHaveBeenCalledWith(alone.timer);
    // A slot cancelled empty is not joined again: the next renewal gets a timer of its own.
    const next = scheduleRenewal(kept, 30);
    expect(next).not.toBe(alone);
    await waitUntil(() => expect(log).toEqual(['kept', 'kept']));
  });

  it('does not start a renewal that an earlier one of its slot cancelled', async () => {
    stillDate();
    const log: string[] = [];
    const later = renewal(log, 'later');
    const slots: RenewalSlot[] = [];
    const earlier = renewal(log, 'earlier', () => cancelRenewal(slots[0], later));
    const slot = scheduleRenewal(earlier, 30);
    slots.push(scheduleRenewal(later, 30));
    expect(slots[0]).toBe(slot);
    // Both would start in the one callback that starts `earlier`.
    await waitUntil(() => expect(log).toContain('earlier'));
    expect(log).toEqual(['earlier']);
  });

  it('gives a renewal armed again as its slot starts a slot of its own, started once', () => {
    stillDate();
    const callbacks = keptCallbacks();
    let starts = 0;
    let again: RenewalSlot | undefined;
    const renewing: DueRenewal = {
      renewDue: () => {
        starts += 1;
        // Armed again once only: joined to the slot being started, it would start again at once.
        if (starts === 1) {
          again = scheduleRenewal(renewing, 50);
        }
      },
    };
    const slot = scheduleRenewal(renewing, 50);
    callbacks[0]();
    expect(starts).toBe(1);
    expect(again).not.toBe(slot);
    cancelRenewal(again!, renewing);
  });

  it('starts every renewal of a slot when some throw, then throws their errors', () => {
    stillDate();
    const callbacks = keptCallbacks();
    const log: string[] = [];
    const failing = (name: string): DueRenewal =>
      renewal(log, name, () => {
        throw new Error(`${name} failed`);
      });
    const one = scheduleRenewal(failing('one'), 50);
    expect(scheduleRenewal(renewal(log, 'two'), 50)).toBe(one);
    expect(() => callbacks[0]()).toThrow('one failed');
    expect(log).toEqual(['one', 'two']);
    clearTimeout(one.timer);

    const several = scheduleRenewal(failing('three'), 60);
    expect(scheduleRenewal(failing('four'), 60)).toBe(several);
    let thrown: unknown;
    try {
      callbacks[1]();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AggregateError);
    expect((thrown as AggregateError).errors.map((error: Error) => error.message)).toEqual([
      'three failed',
      'four failed',
    ]);
    clearTimeout(several.timer);
  });

  it('never puts a renewal in a slot armed by another setTimeout', async () => {
    const log: string[] = [];
    stillDate();
    const real = scheduleRenewal(renewal(log, 'real'), 60);
    vi.useRealTimers();
    stillDate(['setTimeout', 'clearTimeout']);
    const fake = scheduleRenewal(renewal(log, 'fake'), 60);
    expect(fake).not.toBe(real);
    vi.advanceTimersByTime(100);
    expect(log).toEqual(['fake']);
    vi.useRealTimers();
    await waitUntil(() => expect(log).toEqual(['fake', 'real']));
  });
});
