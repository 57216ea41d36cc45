import { describe, expect, it } from 'vitest';
import { createOwnerToken, tokenTag } from '../../lib/utils/token.js';

describe('createOwnerToken', () => {
  it('hands out 32 hex characters, never the same twice, across several refills of its pool', () => {
    // The pool holds 256 tokens: 2,000 draws refill it several times.
    const tokens = Array.from({ length: 2_000 }, () => createOwnerToken());
    for (const token of tokens) {
      expect(token).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('spreads its characters evenly: the pool is random bytes, each used once', () => {
    const text = Array.from({ length: 4_000 }, () => createOwnerToken()).join('');
    const counts = new Map<string, number>();
    for (const char of text) {
      counts.set(char, (counts.get(char) ?? 0) + 1);
    }
    // 128,000 characters, 8,000 expected per hex digit; a deviation of 10% is over 9 sigma.
    expect(counts.size).toBe(16);
    for (const count of counts.values()) {
      expect(Math.abs(count - 8_000)).toBeLessThan(800);
    }
  });
});

describe('tokenTag', () => {
  it('is 8 hex characters, the same for the same token, and never a piece of the token', () => {
    const token = createOwnerToken();
    expect(tokenTag(token)).toMatch(/^[0-9a-f]{8}$/);
    expect(tokenTag(token)).toBe(tokenTag(token));
    expect(token).not.toContain(tokenTag(token));
  });
});
