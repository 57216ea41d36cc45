import { describe, expect, it } from 'vitest';
import { numberText } from '../../lib/utils/number-text.js';

describe('numberText', () => {
  it('writes the text String() writes, around 2^31, 2^53 and every multiple of 10^8', () => {
    const values = [
      0,
      -0,
      1,
      -1,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 31 + 1,
      2 ** 32,
      Number.MAX_SAFE_INTEGER - 1,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 1,
      2 ** 60,
      -(2 ** 40),
      2 ** 31 + 0.5,
      1e15 + 0.25,
      1e21,
      0.1,
      NaN,
      Infinity,
      -Infinity,
    ];
    // Just below, at and just above a multiple of 10^8, where a division that rounded up would show.
    for (let high = 21; high <= 90_071_992; high = Math.ceil(high * 1.05) + 1) {
      for (const delta of [-2, -1, 0, 1, 2]) {
        values.push(high * 1e8 + delta);
      }
    }
    for (const value of values) {
      expect(numberText(value), String(value)).toBe(String(value));
    }
  });

  it('writes ms timestamps and fencing tokens as String() does', () => {
    let seed = 7;
    const next = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    for (let i = 0; i < 20_000; i++) {
      const timestamp = Math.floor(1.6e12 + next() * 1e12);
      const fence = Math.floor(next() * Number.MAX_SAFE_INTEGER);
      expect(numberText(timestamp)).toBe(String(timestamp));
      expect(numberText(fence)).toBe(String(fence));
    }
  });
});
