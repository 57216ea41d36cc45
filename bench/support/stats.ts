/** Small, dependency-free statistics for benchmark samples. */

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) {
    return Number.NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function min(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.min(...values);
}

export function max(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.max(...values);
}

/** Median with its spread: min–max over rounds, or p10–p90 over many samples. */
export interface Summary {
  median: number;
  low: number;
  high: number;
}

/** Median and min–max: for a handful of per-round values. */
export function summarizeRounds(values: readonly number[]): Summary {
  return { median: median(values), low: min(values), high: max(values) };
}

/** Median and p10–p90: for many individual samples. */
export function summarizeSamples(values: readonly number[]): Summary {
  return { median: median(values), low: quantile(values, 0.1), high: quantile(values, 0.9) };
}

/**
 * Per-round ratios `a[i] / b[i]` of two interleaved series: pairing each round with its own
 * baseline cancels most of the drift a shared, loaded machine adds between rounds.
 */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((value, index) => value / b[index]);
}

export function formatNumber(value: number, digits = 0): string {
  if (!Number.isFinite(value)) {
    return 'n/a';
  }
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** `12,345 (11,900–12,800)`. */
export function formatSummary(summary: Summary, digits = 0, unit = ''): string {
  return (
    `${formatNumber(summary.median, digits)}${unit} ` +
    `(${formatNumber(summary.low, digits)}–${formatNumber(summary.high, digits)})`
  );
}

/** `0.93x (0.88–0.97)`. */
export function formatRatio(summary: Summary): string {
  return `${summary.median.toFixed(2)}x (${summary.low.toFixed(2)}–${summary.high.toFixed(2)})`;
}
