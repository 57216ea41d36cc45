import type {
  HistoryEntry,
  HistoryKind,
  HistoryOutcome,
  RunOutcome,
  RunTrigger,
} from './lock-store.interface.js';

/** Longest error message kept in a history entry: a stack or a dumped payload is cut here. */
export const HISTORY_ERROR_MAX = 500;

/** Occurrences found missed by one run that its release records at most (the latest ones). */
export const MISSED_ENTRIES_MAX = 100;

const KINDS: ReadonlySet<string> = new Set<HistoryKind>(['run', 'missed', 'paused', 'merged']);
const OUTCOMES: ReadonlySet<string> = new Set<HistoryOutcome>([
  'completed',
  'failed',
  'lost',
  'aborted',
]);
const TRIGGERS: ReadonlySet<string> = new Set<RunTrigger>(['schedule', 'catch-up', 'manual']);

/**
 * The entries one release records, oldest first: the occurrences the run found missed (the
 * latest {@link MISSED_ENTRIES_MAX}), then the run itself. Empty when the outcome says nothing
 * about the run (a custom caller, or a release that ends no run).
 */
export function releaseEntries(
  outcome: RunOutcome | undefined,
  missed: readonly number[] | undefined,
  recordedAt: number,
): HistoryEntry[] {
  const run = outcome?.run;
  if (!outcome || !run) {
    return [];
  }
  const entries: HistoryEntry[] = [];
  for (const scheduledAt of (missed ?? []).slice(-MISSED_ENTRIES_MAX)) {
    if (Number.isSafeInteger(scheduledAt)) {
      entries.push(occurrenceEntry('missed', scheduledAt, run.instanceId, recordedAt));
    }
  }
  entries.push({
    kind: 'run',
    scheduledAt: run.scheduledAt,
    startedAt: Math.round(run.startedAt),
    finishedAt: Math.round(outcome.finishedAt),
    durationMs: Math.max(0, Math.round(outcome.durationMs)),
    instanceId: run.instanceId,
    fencingToken: run.fencingToken,
    trigger: run.trigger,
    outcome: run.outcome,
    error: run.error === null ? null : run.error.slice(0, HISTORY_ERROR_MAX),
  });
  return entries;
}

/** An entry for an occurrence that did not run: `missed`, `paused` or `merged`. */
export function occurrenceEntry(
  kind: Exclude<HistoryKind, 'run'>,
  scheduledAt: number,
  instanceId: string | null,
  recordedAt: number,
): HistoryEntry {
  return {
    kind,
    scheduledAt,
    startedAt: null,
    finishedAt: recordedAt,
    durationMs: null,
    instanceId,
    fencingToken: null,
    trigger: null,
    outcome: null,
    error: null,
  };
}

/**
 * Reads one stored entry (JSON text, as the Redis and PostgreSQL stores keep them): unknown or
 * malformed fields come out as `null`, an entry that is not an object at all as `null` (left
 * out), so one bad entry never hides the others.
 */
export function parseEntry(text: string): HistoryEntry | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) {
    return null;
  }
  const entry = raw as Record<string, unknown>;
  const kind = typeof entry.kind === 'string' && KINDS.has(entry.kind) ? entry.kind : null;
  if (kind === null) {
    return null;
  }
  return {
    kind: kind as HistoryKind,
    scheduledAt: numberOf(entry.scheduledAt),
    startedAt: numberOf(entry.startedAt),
    finishedAt: numberOf(entry.finishedAt),
    durationMs: numberOf(entry.durationMs),
    instanceId: typeof entry.instanceId === 'string' ? entry.instanceId : null,
    fencingToken: numberOf(entry.fencingToken),
    trigger: oneOf(entry.trigger, TRIGGERS) as RunTrigger | null,
    outcome: oneOf(entry.outcome, OUTCOMES) as HistoryOutcome | null,
    error: typeof entry.error === 'string' ? entry.error : null,
  };
}

/** The entry as stored: fields that are `null` are left out. */
export function entryText(entry: HistoryEntry): string {
  const compact: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (value !== null && value !== undefined) {
      compact[key] = value;
    }
  }
  return JSON.stringify(compact);
}

function numberOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function oneOf(value: unknown, allowed: ReadonlySet<string>): string | null {
  return typeof value === 'string' && allowed.has(value) ? value : null;
}
