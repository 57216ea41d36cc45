import { parseDuration } from 'nestjs-cron-lock';
import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../lib/utils/duration.js';

describe('parseDuration', () => {
  it('takes a number as milliseconds', () => {
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(1)).toBe(1);
    expect(parseDuration(30_000)).toBe(30_000);
  });

  it('rounds fractional milliseconds to whole ones', () => {
    expect(parseDuration(1.4)).toBe(1);
    expect(parseDuration(1.6)).toBe(2);
  });

  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['0s', 0],
  ])('parses %s as %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each([
    ['1.5s', 1_500],
    ['0.5m', 30_000],
    ['2.25h', 8_100_000],
    ['0.5ms', 1],
  ])('parses the decimal %s as %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it('tolerates whitespace around the amount and the unit', () => {
    expect(parseDuration(' 30s ')).toBe(30_000);
    expect(parseDuration('30 s')).toBe(30_000);
    expect(parseDuration('\t5m\n')).toBe(300_000);
  });

  it.each([
    ['a negative number', -1],
    ['a negative string', '-5s'],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    // More digits than a double holds: Number() gives Infinity, which no timer or store takes.
    ['a string whose amount overflows to Infinity', `${'9'.repeat(400)}ms`],
    ['a string whose amount times its unit overflows to Infinity', `${'9'.repeat(305)}d`],
    ['an unknown unit', '5x'],
    ['a unit in words', '5 minutes'],
    ['an empty string', ''],
    ['blank', '   '],
    ['a unit alone', 's'],
    ['two durations', '1m30s'],
    ['null', null],
    ['undefined', undefined],
    ['an object', { ms: 5 }],
    ['an array', [5]],
    ['a boolean', true],
    ['a bigint', 5n],
  ])('rejects %s as undefined', (_label, input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [12.4, '12ms'],
    [1_000, '1.0s'],
    [12_345, '12.3s'],
    [60_000, '1m00s'],
    [245_000, '4m05s'],
    [3_600_000, '60m00s'],
  ])('formats %d ms as %s', (input, expected) => {
    expect(formatDuration(input)).toBe(expected);
  });

  it('carries rounding into the next unit instead of printing 60', () => {
    expect(formatDuration(999.6)).toBe('1.0s');
    expect(formatDuration(59_960)).toBe('1m00s');
    expect(formatDuration(59_940)).toBe('59.9s');
    expect(formatDuration(119_700)).toBe('2m00s');
    expect(formatDuration(60_499)).toBe('1m00s');
  });
});
