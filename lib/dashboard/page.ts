import type { DashboardHistoryEntry, DashboardJob, DashboardSnapshot } from './dashboard.types.js';
import { escapeHtml } from './escape.js';
import { describeEntry, renderTimeline } from './timeline.js';

/** What the page needs besides the data. */
export interface PageContext {
  /** Relative URL prefix of the page's own routes (`cron-lock/` or `./`), never absolute. */
  base: string;
  csrfToken: string | null;
  refreshIntervalMs: number;
  historyLimit: number;
  /** Why the store could not be read (already redacted), or `null`: the page shows it instead of the jobs. */
  storeError: string | null;
}

/** The words and symbols of each state: readable without colour. */
export const STATUS_LABELS: Record<DashboardJob['status'], string> = {
  running: '▶ running',
  paused: '‖ paused',
  failing: '✖ failing',
  idle: '○ idle',
};

const NONE = '—';
const COLUMNS = [
  'Job',
  'State',
  'Holder',
  'TTL left',
  'Paused',
  'Last success',
  'Failures',
  'Next occurrence',
  'Schedule',
  'History',
];

/**
 * The dashboard page, rendered on the server so it reads without script. Every value goes
 * through {@link escapeHtml}; the script and style come from the page's own path (the CSP
 * forbids anything inline), through relative URLs that survive a proxy's path prefix.
 */
export function renderPage(snapshot: DashboardSnapshot, context: PageContext): string {
  const { base, csrfToken } = context;
  const columns = snapshot.actions ? [...COLUMNS, 'Actions'] : COLUMNS;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="cron-lock-api" content="${escapeHtml(base)}api/">
<meta name="cron-lock-refresh" content="${context.refreshIntervalMs}">
<meta name="cron-lock-history-limit" content="${context.historyLimit}">
<meta name="cron-lock-filter" content="${escapeHtml(snapshot.filter ?? '')}">
${csrfToken === null ? '' : `<meta name="cron-lock-csrf" content="${escapeHtml(csrfToken)}">\n`}<title>Cron locks</title>
<link rel="stylesheet" href="${escapeHtml(base)}dashboard.css">
<script src="${escapeHtml(base)}dashboard.js" defer></script>
</head>
<body>
<header>
<h1>Cron locks</h1>
<p class="meta">${renderMeta(snapshot)}</p>
<p id="status" role="status" aria-live="polite"></p>
${context.storeError === null ? '' : `<p id="store-error" role="alert">${escapeHtml(context.storeError)}</p>\n`}</header>
<main>
<form id="filter-form" method="get" role="search"><label for="filter">Filter by name</label>
<input id="filter" name="job" type="search" maxlength="200" autocomplete="off" value="${escapeHtml(snapshot.filter ?? '')}">
<input type="submit" value="Filter"></form>
${renderCut(snapshot)}
<table id="jobs" data-actions="${snapshot.actions}">
<caption>Every job of the key prefix, across all instances. Times are UTC. <a href="${escapeHtml(base)}api/jobs">JSON</a></caption>
<thead><tr>${columns.map((column) => `<th scope="col">${column}</th>`).join('')}</tr></thead>
<tbody>
${snapshot.jobs.map((job) => renderRow(job, snapshot, context.historyLimit)).join('\n')}
</tbody>
</table>
<p id="empty"${snapshot.jobs.length === 0 && context.storeError === null ? '' : ' hidden'}>${escapeHtml(emptyText(snapshot.filter))}</p>
<section aria-labelledby="history-heading">
<h2 id="history-heading">History</h2>
<div id="histories">
${snapshot.jobs.map(renderHistory).join('\n')}
</div>
</section>
</main>
${snapshot.actions ? renderDialog() : ''}
</body>
</html>
`;
}

/**
 * The notice that the list is cut: a store may hold a lock name per entity an app locks, far
 * more than one page reads. Hidden (and kept for the script) while every match is shown.
 */
function renderCut(snapshot: DashboardSnapshot): string {
  const text = cutText(snapshot.jobs.length, snapshot.totalJobs);
  return `<p id="cut"${text === '' ? ' hidden' : ' role="note"'}>${escapeHtml(text)}</p>`;
}

/** `Showing the first 200 of 10000 jobs (by name). …`, or nothing when none is left out. */
export function cutText(shown: number, total: number): string {
  return shown < total
    ? `Showing the first ${shown} of ${total} jobs (by name). Filter by name to find one.`
    : '';
}

/** What an empty table says: nothing under the prefix, or nothing matching the filter. */
export function emptyText(filter: string | null): string {
  return filter === null ? 'No job under this key prefix yet.' : `No job matches "${filter}".`;
}

export function renderMeta(snapshot: DashboardSnapshot): string {
  return (
    `<span id="job-count">${snapshot.jobs.length}</span> jobs · served by ` +
    `<span id="served-by">${escapeHtml(snapshot.servedBy ?? NONE)}</span> · updated ` +
    `<time id="generated-at" datetime="${escapeHtml(snapshot.generatedAt)}">${escapeHtml(formatTime(snapshot.generatedAt))}</time>`
  );
}

function renderRow(job: DashboardJob, snapshot: DashboardSnapshot, historyLimit: number): string {
  const actions = snapshot.actions;
  const cells = [
    `<th scope="row">${escapeHtml(job.name)}</th>`,
    `<td><span class="state state-${job.status}">${STATUS_LABELS[job.status]}</span></td>`,
    td(holderText(job, snapshot.servedBy)),
    td(formatMs(job.ttlLeftMs)),
    `<td class="wrap">${escapeHtml(formatPause(job))}</td>`,
    td(formatTime(job.lastSuccessAt)),
    td(String(job.consecutiveFailures)),
    td(formatTime(job.nextAt)),
    td(formatSchedule(job)),
    `<td>${renderTimeline(job.history, historyLimit)}</td>`,
  ];
  if (actions) {
    cells.push(`<td class="actions">${renderButtons(job)}</td>`);
  }
  return `<tr data-job="${escapeHtml(job.name)}">${cells.join('')}</tr>`;
}

function renderButtons(job: DashboardJob): string {
  const name = escapeHtml(job.name);
  const button = (action: string, label: string, disabled = false): string =>
    `<button type="button" data-action="${action}" data-job="${name}"` +
    `${disabled ? ' disabled' : ''} aria-label="${label} ${name}">${label}</button>`;
  return [
    job.paused ? button('resume', 'Resume') : button('pause', 'Pause'),
    button('trigger', 'Trigger'),
    // Enabled while the lock is held, also by a plain lock, which records no holder.
    button('release', 'Release', job.ttlLeftMs === null),
  ].join(' ');
}

function renderHistory(job: DashboardJob): string {
  const rows = job.history.map(renderHistoryRow).join('');
  return (
    `<details data-job="${escapeHtml(job.name)}"><summary>${escapeHtml(job.name)} ` +
    `(${entries(job.history.length)})</summary>` +
    (job.history.length === 0
      ? '<p>No history recorded.</p>'
      : `<table class="history"><thead><tr><th scope="col">Occurrence</th><th scope="col">Kind</th>` +
        `<th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Instance</th>` +
        `<th scope="col">Trigger</th><th scope="col">Error</th></tr></thead><tbody>${rows}</tbody></table>`) +
    '</details>'
  );
}

function renderHistoryRow(entry: DashboardHistoryEntry): string {
  return (
    `<tr title="${escapeHtml(describeEntry(entry))}">` +
    td(formatTime(entry.scheduledAt)) +
    td(`${entry.kind}${entry.outcome ? ` (${entry.outcome})` : ''}`) +
    td(formatTime(entry.startedAt)) +
    td(formatMs(entry.durationMs)) +
    td(entry.instanceId ?? NONE) +
    td(entry.trigger ?? NONE) +
    td(entry.error ?? '') +
    '</tr>'
  );
}

function renderDialog(): string {
  return `<dialog id="confirm" aria-labelledby="confirm-title">
<form method="dialog">
<h2 id="confirm-title"></h2>
<p id="confirm-text"></p>
<p id="reason-field" hidden><label for="confirm-reason">Reason (shown on the page and in logs)</label>
<input id="confirm-reason" name="reason" maxlength="200" autocomplete="off"></p>
<p><button value="cancel" id="confirm-cancel">Cancel</button> <button value="ok" id="confirm-ok">Confirm</button></p>
</form>
</dialog>`;
}

/** `1 entry`, `3 entries`. */
function entries(count: number): string {
  return `${count} ${count === 1 ? 'entry' : 'entries'}`;
}

function td(text: string): string {
  return `<td>${escapeHtml(text)}</td>`;
}

export function formatTime(iso: string | null): string {
  return iso === null ? NONE : `${iso.slice(0, 19).replace('T', ' ')}`;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return NONE;
  return ms < 1_000 ? `${ms} ms` : `${(ms / 1_000).toFixed(1)} s`;
}

/**
 * The Holder cell: `(this instance)` only when the instance serving the page holds the lock.
 * `runningHere` alone also holds for a run that lost its lock and goes on here until it returns,
 * while another instance holds the lock (the one named); the page's script writes the same.
 */
export function holderText(job: DashboardJob, servedBy: string | null): string {
  if (job.holder === null) {
    return NONE;
  }
  return job.runningHere && job.holder === servedBy ? `${job.holder} (this instance)` : job.holder;
}

export function formatPause(job: DashboardJob): string {
  if (!job.paused) return 'no';
  const until = job.pausedUntil === null ? '' : ` until ${formatTime(job.pausedUntil)}`;
  return `yes${until}${job.pauseReason ? `: ${job.pauseReason}` : ''}`;
}

export function formatSchedule(job: DashboardJob): string {
  if (job.cron === null) return NONE;
  return `${job.cron} (${job.timeZone ?? 'local'})`;
}
