import { DISPLAY_CONTROLS } from '../cron-lock.constants.js';
import { redactUrl } from '../utils/redact.js';

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made inert in HTML content and in quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}

// An owner token is 32 hex characters: a value that quotes one shows only its first 8.
const TOKEN_LIKE = /\b([0-9a-f]{8})[0-9a-f]{24,}\b/gi;
const MAX_TEXT = 500;

/**
 * A value from the store fit for the page and its JSON: text, without URL user info or a full
 * token, without control characters (tab and newline kept) or bidi overrides and isolates, at
 * most 500 characters. Escaping happens where it is written into HTML; this only keeps secrets
 * and noise out of both outputs.
 */
export function safeText(value: unknown): string | null {
  if (value === null || value === undefined) {
    return null;
  }
  const text = redactUrl(String(value))
    .replace(TOKEN_LIKE, '$1…')
    // Control characters would garble a table cell or a log line, and a bidi override or isolate
    // would show the text after it reordered. Tab and newline stay: HTML shows them as a space,
    // JSON escapes them, and a multi-line error keeps its lines in the JSON.
    .replace(DISPLAY_CONTROLS, (char) => (char === '\t' || char === '\n' ? char : ' '));
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}
