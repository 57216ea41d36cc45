import { formatDuration } from '../utils/duration.js';
import { redactUrl } from '../utils/redact.js';

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

/**
 * An instance id read from the store or a reply (a lock's holder, a history entry's instance, the
 * instance that ran a trigger), with a URL's credentials hidden as the dashboard hides them. An
 * instance of an older version took a connection string as its id, and a custom store may keep
 * anything: its entries stay for up to `historySize` runs. `null` and `undefined` stay as they are.
 */
export function shownInstanceId(id: string): string;
export function shownInstanceId(id: string | undefined): string | undefined;
export function shownInstanceId(id: string | null): string | null;
export function shownInstanceId(id: string | null | undefined): string | null | undefined {
  return typeof id === 'string' ? redactUrl(id) : id;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
