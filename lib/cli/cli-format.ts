import { DISPLAY_CONTROLS } from '../cron-lock.constants.js';
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

/**
 * `text` read from the store or a reply (an instance id, a skip reason), on one line, in stored
 * order: each of {@link DISPLAY_CONTROLS} a space. An older version took an `instanceId` with an
 * escape or a line break as it was given, and a custom store may keep anything: printed raw, an
 * escape clears or recolours the operator's terminal, and a line break forges a row of a table or
 * a line of an answer.
 */
export function oneLine(text: string): string {
  return text.replace(DISPLAY_CONTROLS, ' ');
}

/** A table cell: {@link NONE} when empty, else one line of at most 60 characters. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined || value === '') {
    return NONE;
  }
  const text = oneLine(String(value));
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
