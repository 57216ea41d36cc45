import { describe, expect, it } from 'vitest';
import { PerName, RecentNames } from '../../lib/utils/recent-names.js';

describe('RecentNames', () => {
  it('keeps the names used most recently, a use moving a name to the newest', () => {
    const names = new RecentNames<number>(3);
    names.use('a', () => 1);
    names.use('b', () => 2);
    names.use('c', () => 3);
    expect(names.use('a', () => 10)).toBe(1);
    names.use('d', () => 4);
    expect([...names.names()]).toEqual(['c', 'a', 'd']);
    expect(names.has('b')).toBe(false);
    // Reading is not a use: 'c' stays the oldest and goes next.
    expect(names.get('c')).toBe(3);
    names.use('e', () => 5);
    expect([...names.names()]).toEqual(['a', 'd', 'e']);
  });
});

describe('PerName', () => {
  it('keeps a scheduled name for good, and any other among the 1,000 used last', () => {
    const state = new PerName<{ n: number }>();
    const job = state.use('job', true, () => ({ n: 0 }));
    const early = state.use('entity:early', false, () => ({ n: 1 }));
    for (let i = 0; i < 1_000; i++) state.use(`entity:${i}`, false, () => ({ n: i }));
    expect(state.get('job')).toBe(job);
    expect(state.get('entity:early')).toBeUndefined();
    expect(state.get('entity:999')).toEqual({ n: 999 });
    expect(early.n).toBe(1);
  });

  it('keeps the state a name had before it was seen with a schedule', () => {
    const state = new PerName<{ n: number }>();
    const before = state.use('shared', false, () => ({ n: 1 }));
    expect(state.use('shared', true, () => ({ n: 2 }))).toBe(before);
    for (let i = 0; i < 1_000; i++) state.use(`entity:${i}`, false, () => ({ n: i }));
    expect(state.get('shared')).toBe(before);
    // Once scheduled, a use without a schedule finds the same state.
    expect(state.use('shared', false, () => ({ n: 3 }))).toBe(before);
  });
});
