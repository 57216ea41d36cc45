import { describe, expect, it } from 'vitest';
import { InFlight } from '../../lib/utils/in-flight.js';

/** Whether `promise` has settled once the microtasks queued so far have run. */
async function isSettled(promise: Promise<void>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('InFlight', () => {
  it('is settled at once when nothing is in flight', async () => {
    expect(await isSettled(new InFlight().settled())).toBe(true);
  });

  it('settles every waiter when the last one in flight is answered, not before', async () => {
    const inFlight = new InFlight();
    inFlight.sent();
    inFlight.sent();
    const first = inFlight.settled();
    const second = inFlight.settled();
    inFlight.answered();
    expect(inFlight.size).toBe(1);
    expect(await isSettled(first)).toBe(false);
    inFlight.answered();
    expect(await isSettled(first)).toBe(true);
    expect(await isSettled(second)).toBe(true);
  });

  it('waits again for commands sent after it was settled', async () => {
    const inFlight = new InFlight();
    inFlight.sent();
    inFlight.answered();
    inFlight.sent();
    const waiting = inFlight.settled();
    expect(await isSettled(waiting)).toBe(false);
    inFlight.answered();
    expect(await isSettled(waiting)).toBe(true);
  });
});
