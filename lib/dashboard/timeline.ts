import type { DashboardHistoryEntry } from './dashboard.types.js';
import { escapeHtml } from './escape.js';

/** Width and height of a job's timeline, in px; one slot per entry, the newest on the right. */
export const TIMELINE_WIDTH = 180;
export const TIMELINE_HEIGHT = 24;

/**
 * A job's history as a small inline SVG: a bar per run (its height the duration, hollow when it
 * failed), a ring per missed occurrence, a dash per skip. Shapes differ, not only colours, so it
 * reads without colour; each mark has a `<title>`, and the whole an `aria-label` summary.
 * The page's script draws the same marks with DOM calls on refresh (`dashboard.script.ts`).
 */
export function renderTimeline(entries: readonly DashboardHistoryEntry[], limit: number): string {
  const ordered = [...entries].reverse();
  const slot = TIMELINE_WIDTH / Math.max(limit, 1);
  const longest = Math.max(1, ...ordered.map((entry) => entry.durationMs ?? 0));
  const marks = ordered.map((entry, index) => {
    const x = index * slot;
    const title = `<title>${escapeHtml(describeEntry(entry))}</title>`;
    const kind = markKind(entry);
    if (kind === 'ok' || kind === 'bad') {
      const height = 4 + Math.round(((entry.durationMs ?? 0) / longest) * (TIMELINE_HEIGHT - 6));
      return (
        `<rect class="tl-${kind}" x="${(x + 1).toFixed(1)}" y="${TIMELINE_HEIGHT - 1 - height}" ` +
        `width="${Math.max(1, slot - 2).toFixed(1)}" height="${height}">${title}</rect>`
      );
    }
    const cx = (x + slot / 2).toFixed(1);
    if (kind === 'missed') {
      return `<circle class="tl-missed" cx="${cx}" cy="${TIMELINE_HEIGHT - 5}" r="3">${title}</circle>`;
    }
    return `<rect class="tl-skip" x="${(x + 1).toFixed(1)}" y="${TIMELINE_HEIGHT - 3}" width="${Math.max(1, slot - 2).toFixed(1)}" height="2">${title}</rect>`;
  });
  return (
    `<svg class="timeline" width="${TIMELINE_WIDTH}" height="${TIMELINE_HEIGHT}" ` +
    `viewBox="0 0 ${TIMELINE_WIDTH} ${TIMELINE_HEIGHT}" role="img" aria-label="${escapeHtml(summarize(entries))}">` +
    `<line class="tl-base" x1="0" y1="${TIMELINE_HEIGHT - 0.5}" x2="${TIMELINE_WIDTH}" y2="${TIMELINE_HEIGHT - 0.5}"/>` +
    `${marks.join('')}</svg>`
  );
}

/** `ok` and `bad` runs, `missed` occurrences, anything else a skip. */
export function markKind(entry: DashboardHistoryEntry): 'ok' | 'bad' | 'missed' | 'skip' {
  if (entry.kind === 'run') {
    return entry.outcome === 'completed' ? 'ok' : 'bad';
  }
  return entry.kind === 'missed' ? 'missed' : 'skip';
}

/** One line per entry, as its tooltip and the history table's row say it. */
export function describeEntry(entry: DashboardHistoryEntry): string {
  const at = entry.startedAt ?? entry.scheduledAt ?? '?';
  const parts = [`${entry.kind}${entry.outcome ? ` ${entry.outcome}` : ''}`, at];
  if (entry.durationMs !== null) parts.push(`${entry.durationMs} ms`);
  if (entry.instanceId) parts.push(`on ${entry.instanceId}`);
  if (entry.error) parts.push(entry.error);
  return parts.join(' · ');
}

/** "12 runs (1 failed), 2 missed, 3 skipped", for screen readers. */
export function summarize(entries: readonly DashboardHistoryEntry[]): string {
  if (entries.length === 0) {
    return 'no history';
  }
  const count = (kind: string): number => entries.filter((e) => markKind(e) === kind).length;
  const runs = count('ok') + count('bad');
  return `${runs} runs (${count('bad')} failed), ${count('missed')} missed, ${count('skip')} skipped`;
}
