import { formatDuration } from '../utils/duration.js';

/** Shown for a value the store does not know (or does not record). */
export const NONE = '-';

/** `2030-01-01 12:00:00` in UTC (the table's header says so), or {@link NONE}. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return NONE;
  }
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** `850ms`, `4.2s`, `5m03s`, or {@link NONE}. */
export function formatMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? NONE : formatDuration(ms);
}

/** An ISO 8601 timestamp for JSON output, or `null`. */
export function isoTime(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms)
    ? null
    : new Date(ms).toISOString();
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
