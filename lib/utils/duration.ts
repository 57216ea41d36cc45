/**
 * A span of time: milliseconds as a number, or a string with a unit:
 * `'500ms'`, `'30s'`, `'5m'`, `'1h'`, `'1d'` (decimals allowed, e.g. `'1.5s'`).
 *
 * @publicApi
 */
export type Duration = number | `${number}${DurationUnit}`;

/** Units a {@link Duration} string may end with. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * The longest delay Node.js timers hold: 2^31-1 ms, about 24.8 days. A longer one fires after
 * 1 ms (with a `TimeoutOverflowWarning`), so every duration option is bounded by it.
 *
 * @publicApi
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const DURATION_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;

/**
 * Parses a {@link Duration} into whole milliseconds.
 * Returns `undefined` when the value is not a duration at all (wrong type, unknown unit,
 * negative, NaN, infinite), so callers can build an error that names the job. Values above
 * {@link MAX_DURATION_MS} are returned as they are: the options that take a duration reject them.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  }
  if (typeof value !== 'string') {
    return undefined;
  }
  const match = DURATION_PATTERN.exec(value);
  if (!match) {
    return undefined;
  }
  const unit = match[2] as DurationUnit;
  // A string of more digits than a double holds reads as Infinity, a value no option takes.
  const ms = Math.round(Number(match[1]) * UNIT_MS[unit]);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Formats milliseconds for humans in log lines: `850ms`, `12.3s`, `4m05s`. */
export function formatDuration(ms: number): string {
  // Round once per unit before choosing it, so that 59.96 s never prints as 60.0s and
  // 119.7 s never as 1m60s.
  if (Math.round(ms) < 1_000) {
    return `${Math.round(ms)}ms`;
  }
  const tenths = Math.round(ms / 100);
  if (tenths < 600) {
    return `${(tenths / 10).toFixed(1)}s`;
  }
  const seconds = Math.round(ms / 1_000);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}
