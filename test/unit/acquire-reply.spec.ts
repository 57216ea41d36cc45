import { describe, expect, it } from 'vitest';
import { readAcquireReply } from '../../lib/stores/redis/acquire-reply.js';

/** A won reply as the general path reads it: split on spaces, each field through `Number()`. */
function splitReading(reply: string): unknown {
  const [, fence, okAt, tick] = reply.split(' ');
  const numberOrNull = (field: string | undefined) => {
    if (field === '' || field === undefined) return null;
    const value = Number(field);
    return Number.isFinite(value) ? value : null;
  };
  const previousTick = numberOrNull(tick);
  const result: Record<string, unknown> = {
    acquired: true,
    fencingToken: Number(fence),
    lastSuccessAt: numberOrNull(okAt),
  };
  if (previousTick !== null) result.previousTick = previousTick;
  return result;
}

describe("the Redis store's reading of a won acquisition", () => {
  const fields = [
    '',
    '0',
    '7',
    '0042',
    '1735689600000',
    '1765036800123456',
    String(Number.MAX_SAFE_INTEGER),
    String(Number.MAX_SAFE_INTEGER + 1),
    '9007199254740993',
    '123456789012345678901234567890',
    '12a',
    '1e3',
    '-5',
    'inf',
    'nan',
    '0x1f',
  ];

  it('gives what splitting the reply and reading each field with Number() gives', () => {
    let compared = 0;
    for (const fence of fields) {
      for (const okAt of fields) {
        for (const tick of fields) {
          const reply = `1 ${fence} ${okAt} ${tick}`;
          expect(readAcquireReply(reply), reply).toEqual(splitReading(reply));
          compared++;
        }
      }
    }
    expect(compared).toBe(fields.length ** 3);
  });

  it('reads a reply with more fields than a won one by the general path', () => {
    expect(readAcquireReply('1 17 1735689600000 1735689599000 extra')).toEqual({
      acquired: true,
      fencingToken: 17,
      lastSuccessAt: 1735689600000,
      previousTick: 1735689599000,
    });
    expect(readAcquireReply('1 17')).toEqual({
      acquired: true,
      fencingToken: 17,
      lastSuccessAt: null,
    });
  });

  it('still reads the answers that did not win', () => {
    expect(readAcquireReply('0 held 1735689600000')).toEqual({
      acquired: false,
      reason: 'held',
      lastSuccessAt: 1735689600000,
    });
    expect(readAcquireReply('0 tick-done   1')).toEqual({
      acquired: false,
      reason: 'tick-done',
      lastSuccessAt: null,
      paused: true,
    });
  });
});
