/**
 * The page's script, served from `<path>/dashboard.js` (the CSP allows no inline script). Plain
 * browser JavaScript, no build step: refreshes the table from the JSON endpoint without a
 * reload, and sends the actions (POST with the CSRF token in a header). It writes every value
 * with `textContent` or `setAttribute`, never as markup, so a value cannot become an element.
 * It mirrors page.ts and timeline.ts, which render the first view on the server.
 */
export const DASHBOARD_SCRIPT = String.raw`'use strict';
(function () {
  var meta = function (name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute('content') : null;
  };
  var api = meta('cron-lock-api');
  var csrf = meta('cron-lock-csrf');
  var refreshMs = Number(meta('cron-lock-refresh')) || 5000;
  var historyLimit = Number(meta('cron-lock-history-limit')) || 30;
  // The page's own filter, so that a refresh reads the jobs it shows, not the first of all.
  var filter = meta('cron-lock-filter') || '';
  var jobsUrl = api + 'jobs' + (filter ? '?job=' + encodeURIComponent(filter) : '');
  var table = document.getElementById('jobs');
  var actions = table.getAttribute('data-actions') === 'true';
  var statusEl = document.getElementById('status');
  var dialog = document.getElementById('confirm');
  var NONE = '\u2014';
  var LABELS = { running: '\u25b6 running', paused: '\u2016 paused', failing: '\u2716 failing', idle: '\u25cb idle' };
  var SVG = 'http://www.w3.org/2000/svg';
  var W = 180, H = 24;
  var busy = false;

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    for (var key in attrs || {}) node.setAttribute(key, attrs[key]);
    return node;
  }
  function fmtTime(iso) { return iso ? iso.slice(0, 19).replace('T', ' ') : NONE; }
  function fmtMs(ms) { return ms === null || ms === undefined ? NONE : ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(1) + ' s'; }
  function fmtPause(job) {
    if (!job.paused) return 'no';
    return 'yes' + (job.pausedUntil ? ' until ' + fmtTime(job.pausedUntil) : '') + (job.pauseReason ? ': ' + job.pauseReason : '');
  }
  function fmtSchedule(job) { return job.cron === null ? NONE : job.cron + ' (' + (job.timeZone || 'local') + ')'; }
  function markKind(e) { return e.kind === 'run' ? (e.outcome === 'completed' ? 'ok' : 'bad') : e.kind === 'missed' ? 'missed' : 'skip'; }
  function describe(e) {
    var parts = [e.kind + (e.outcome ? ' ' + e.outcome : ''), e.startedAt || e.scheduledAt || '?'];
    if (e.durationMs !== null) parts.push(e.durationMs + ' ms');
    if (e.instanceId) parts.push('on ' + e.instanceId);
    if (e.error) parts.push(e.error);
    return parts.join(' \u00b7 ');
  }
  function summarize(entries) {
    if (entries.length === 0) return 'no history';
    var n = { ok: 0, bad: 0, missed: 0, skip: 0 };
    entries.forEach(function (e) { n[markKind(e)]++; });
    return (n.ok + n.bad) + ' runs (' + n.bad + ' failed), ' + n.missed + ' missed, ' + n.skip + ' skipped';
  }
  function svgEl(tag, attrs, title) {
    var node = document.createElementNS(SVG, tag);
    for (var key in attrs) node.setAttribute(key, String(attrs[key]));
    if (title) { var t = document.createElementNS(SVG, 'title'); t.textContent = title; node.appendChild(t); }
    return node;
  }
  function timeline(entries) {
    var svg = svgEl('svg', { 'class': 'timeline', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': summarize(entries) });
    svg.appendChild(svgEl('line', { 'class': 'tl-base', x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5 }));
    var ordered = entries.slice().reverse();
    var slot = W / Math.max(historyLimit, 1);
    var longest = Math.max.apply(null, [1].concat(ordered.map(function (e) { return e.durationMs || 0; })));
    ordered.forEach(function (e, i) {
      var x = i * slot, kind = markKind(e), title = describe(e);
      if (kind === 'ok' || kind === 'bad') {
        var h = 4 + Math.round(((e.durationMs || 0) / longest) * (H - 6));
        svg.appendChild(svgEl('rect', { 'class': 'tl-' + kind, x: (x + 1).toFixed(1), y: H - 1 - h, width: Math.max(1, slot - 2).toFixed(1), height: h }, title));
      } else if (kind === 'missed') {
        svg.appendChild(svgEl('circle', { 'class': 'tl-missed', cx: (x + slot / 2).toFixed(1), cy: H - 5, r: 3 }, title));
      } else {
        svg.appendChild(svgEl('rect', { 'class': 'tl-skip', x: (x + 1).toFixed(1), y: H - 3, width: Math.max(1, slot - 2).toFixed(1), height: 2 }, title));
      }
    });
    return svg;
  }
  function button(action, label, job, disabled) {
    var b = el('button', label, { type: 'button', 'data-action': action, 'data-job': job.name, 'aria-label': label + ' ' + job.name });
    if (disabled) b.disabled = true;
    return b;
  }
  function row(job, servedBy) {
    var tr = el('tr', null, { 'data-job': job.name });
    tr.appendChild(el('th', job.name, { scope: 'row' }));
    var state = el('td');
    state.appendChild(el('span', LABELS[job.status] || job.status, { 'class': 'state state-' + job.status }));
    tr.appendChild(state);
    // As the server's holderText: only a lock this instance holds, not a lost run going on here.
    tr.appendChild(el('td', job.holder === null ? NONE : job.holder + (job.runningHere && job.holder === servedBy ? ' (this instance)' : '')));
    tr.appendChild(el('td', fmtMs(job.ttlLeftMs)));
    tr.appendChild(el('td', fmtPause(job), { 'class': 'wrap' }));
    [fmtTime(job.lastSuccessAt), String(job.consecutiveFailures), fmtTime(job.nextAt), fmtSchedule(job)]
      .forEach(function (text) { tr.appendChild(el('td', text)); });
    var history = el('td');
    history.appendChild(timeline(job.history));
    tr.appendChild(history);
    if (actions) {
      var cell = el('td', null, { 'class': 'actions' });
      cell.appendChild(job.paused ? button('resume', 'Resume', job) : button('pause', 'Pause', job));
      cell.appendChild(document.createTextNode(' '));
      cell.appendChild(button('trigger', 'Trigger', job));
      cell.appendChild(document.createTextNode(' '));
      cell.appendChild(button('release', 'Release', job, job.ttlLeftMs === null));
      tr.appendChild(cell);
    }
    return tr;
  }
  function historyBlock(job, open) {
    var details = el('details', null, { 'data-job': job.name });
    if (open) details.open = true;
    details.appendChild(el('summary', job.name + ' (' + job.history.length + (job.history.length === 1 ? ' entry)' : ' entries)')));
    if (job.history.length === 0) { details.appendChild(el('p', 'No history recorded.')); return details; }
    var t = el('table', null, { 'class': 'history' });
    var head = el('tr');
    ['Occurrence', 'Kind', 'Started', 'Duration', 'Instance', 'Trigger', 'Error'].forEach(function (h) { head.appendChild(el('th', h, { scope: 'col' })); });
    t.appendChild(el('thead')).appendChild(head);
    var body = t.appendChild(el('tbody'));
    job.history.forEach(function (e) {
      var tr = el('tr', null, { title: describe(e) });
      [fmtTime(e.scheduledAt), e.kind + (e.outcome ? ' (' + e.outcome + ')' : ''), fmtTime(e.startedAt), fmtMs(e.durationMs),
        e.instanceId || NONE, e.trigger || NONE, e.error || ''].forEach(function (text) { tr.appendChild(el('td', text)); });
      body.appendChild(tr);
    });
    details.appendChild(t);
    return details;
  }
  function render(snapshot) {
    var focused = document.activeElement;
    var keep = focused && focused.getAttribute ? [focused.getAttribute('data-action'), focused.getAttribute('data-job')] : null;
    var tbody = table.tBodies[0];
    var rows = document.createDocumentFragment();
    snapshot.jobs.forEach(function (job) { rows.appendChild(row(job, snapshot.servedBy)); });
    tbody.replaceChildren(rows);
    var histories = document.getElementById('histories');
    var open = {};
    histories.querySelectorAll('details[open]').forEach(function (d) { open[d.getAttribute('data-job')] = true; });
    var blocks = document.createDocumentFragment();
    snapshot.jobs.forEach(function (job) { blocks.appendChild(historyBlock(job, open[job.name])); });
    histories.replaceChildren(blocks);
    document.getElementById('empty').hidden = snapshot.jobs.length > 0;
    var cut = document.getElementById('cut');
    var left = snapshot.jobs.length < snapshot.totalJobs;
    cut.textContent = left ? 'Showing the first ' + snapshot.jobs.length + ' of ' + snapshot.totalJobs + ' jobs (by name). Filter by name to find one.' : '';
    cut.hidden = !left;
    if (left) cut.setAttribute('role', 'note'); else cut.removeAttribute('role');
    // The page was served during a store outage: the store answers again.
    var storeError = document.getElementById('store-error');
    if (storeError) storeError.remove();
    document.getElementById('job-count').textContent = String(snapshot.jobs.length);
    document.getElementById('served-by').textContent = snapshot.servedBy || NONE;
    var at = document.getElementById('generated-at');
    at.setAttribute('datetime', snapshot.generatedAt);
    at.textContent = fmtTime(snapshot.generatedAt);
    if (keep && keep[0]) {
      // A refresh must not steal the keyboard focus from the button the operator is on.
      tbody.querySelectorAll('button[data-action]').forEach(function (b) {
        if (b.getAttribute('data-action') === keep[0] && b.getAttribute('data-job') === keep[1]) b.focus();
      });
    }
  }
  // Whether the status line shows a failed refresh: the next refresh that succeeds takes it down
  // (an action's answer stays until the next action).
  var refreshFailed = false;
  function say(text) { statusEl.textContent = text; refreshFailed = false; }
  function refresh() {
    if (busy || (dialog && dialog.open)) return Promise.resolve();
    return fetch(jobsUrl, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) { if (!res.ok) throw new Error('HTTP ' + res.status); return res.json(); })
      .then(function (snapshot) {
        render(snapshot);
        if (refreshFailed) say('');
        document.body.setAttribute('data-refreshed', snapshot.generatedAt);
      })
      .catch(function (error) { say('Refresh failed: ' + error.message); refreshFailed = true; });
  }
  function send(action, job, body) {
    busy = true;
    return fetch(api + 'jobs/' + encodeURIComponent(job) + '/' + action, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-cron-lock-csrf': csrf || '' },
      body: JSON.stringify(body || {}),
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (answer) {
        say(res.ok ? (answer.message || action + ' done') : 'Refused (' + res.status + '): ' + (answer.message || res.statusText));
      });
    }).catch(function (error) { say(action + ' failed: ' + error.message); })
      .then(function () { busy = false; return refresh(); });
  }
  function confirmAction(title, text, askReason, onConfirm) {
    document.getElementById('confirm-title').textContent = title;
    document.getElementById('confirm-text').textContent = text;
    document.getElementById('reason-field').hidden = !askReason;
    var reason = document.getElementById('confirm-reason');
    reason.value = '';
    dialog.returnValue = '';
    dialog.addEventListener('close', function onClose() {
      dialog.removeEventListener('close', onClose);
      if (dialog.returnValue === 'ok') onConfirm(reason.value);
    });
    dialog.showModal();
    (askReason ? reason : document.getElementById('confirm-cancel')).focus();
  }
  document.addEventListener('click', function (event) {
    var target = event.target.closest ? event.target.closest('button[data-action]') : null;
    if (!target || !actions) return;
    var action = target.getAttribute('data-action');
    var job = target.getAttribute('data-job');
    if (action === 'pause') {
      confirmAction('Pause ' + job, 'No instance will start ' + job + ' until it is resumed.', true, function (reason) {
        send('pause', job, reason ? { reason: reason } : {});
      });
    } else if (action === 'release') {
      var holder = target.closest('tr').children[2].textContent;
      // A plain lock records no holder: its cell reads NONE.
      if (holder === NONE) holder = 'an unknown instance';
      confirmAction('Release the lock of ' + job, 'Held by ' + holder + '. Releasing lets another run start while this one may still be working: only release a lock whose holder is gone.', false, function () {
        send('release', job, { confirm: job });
      });
    } else {
      send(action, job, {});
    }
  });
  setInterval(refresh, refreshMs);
  document.body.setAttribute('data-ready', 'true');
})();
`;

/** The page's style, served from `<path>/dashboard.css` (the CSP allows no inline style). */
export const DASHBOARD_STYLE = `:root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
body { margin: 1rem 2rem; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; }
.meta, caption { color: GrayText; }
caption { text-align: left; padding: .25rem 0; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #8884; vertical-align: middle; white-space: nowrap; }
td.wrap, .history td:last-child { white-space: normal; min-width: 10rem; max-width: 18rem; overflow-wrap: break-word; }
thead th { font-weight: 600; }
tbody th { font-family: ui-monospace, monospace; font-weight: 500; }
.state { white-space: nowrap; font-weight: 600; }
.state-running { color: #1a7f37; }
.state-paused { color: #9a6700; }
.state-failing { color: #cf222e; }
.state-idle { color: GrayText; }
.timeline { display: block; }
.tl-base { stroke: #8888; }
.tl-ok { fill: #2da44e; }
.tl-bad { fill: none; stroke: #cf222e; stroke-width: 1.5; }
.tl-missed { fill: none; stroke: #9a6700; stroke-width: 1.5; }
.tl-skip { fill: #888; }
.actions { white-space: nowrap; }
button, input[type="submit"] { font: inherit; padding: .15rem .6rem; }
button:focus-visible, summary:focus-visible, input:focus-visible { outline: 2px solid Highlight; outline-offset: 2px; }
details { margin: .25rem 0; }
.history td, .history th { font-size: .9em; }
#status:empty { display: none; }
#store-error { color: #cf222e; font-weight: 600; }
#filter-form { margin: .5rem 0; }
#filter-form input { font: inherit; margin: 0 .4rem; }
#cut { font-weight: 600; }
dialog { max-width: 32rem; }
`;
