import { CronLockConfigError } from '../cron-lock.errors.js';
import { INVALID_FLEET_ARGUMENT } from '../cron-lock.messages.js';
import { describeValue } from '../utils/describe-value.js';
import { numberText } from '../utils/number-text.js';
import { checkJobName } from './store-arguments.js';
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
/**
 * Every outcome a run's history entry (and a trigger's `finished` reply) may carry. Built from a
 * record, as `SKIP_REASONS` is, so an outcome added to the type and not here is a type error.
 */
export const HISTORY_OUTCOMES: ReadonlySet<string> = new Set(
  Object.keys({
    completed: true,
    failed: true,
    lost: true,
    aborted: true,
  } satisfies Record<HistoryOutcome, true>),
);
const TRIGGERS: ReadonlySet<string> = new Set<RunTrigger>(['schedule', 'catch-up', 'manual']);

/**
 * Rejects the `limit` of a store's own `history(name, limit)` unless it is a whole number from 0
 * (no entries) up, and a name no lock can have. Checked before the database is asked, so the three built-in stores answer a
 * fraction, `NaN` or a numeric string alike: Redis and PostgreSQL would otherwise refuse it with
 * their own error text (as a store failure), the memory store answer it.
 */
export function checkHistoryLimit(store: string, name: unknown, limit: unknown): void {
  checkJobName(store, 'history', name);
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
    throw new CronLockConfigError(
      INVALID_FLEET_ARGUMENT(
        `${store}.history(${describeValue(name, 200)})`,
        'limit',
        'a whole number of entries, 0 or more (CronLockService.history() takes 1 to 1000)',
        limit,
      ),
    );
  }
}

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

/**
 * The stored texts of {@link releaseEntries}, oldest first. A release without missed occurrences
 * (nearly every one) writes its run's entry straight from the outcome: no entry object, list or
 * copy of the missed ones first, and the same text as {@link entryText} of the entry.
 */
export function releaseEntryTexts(
  outcome: RunOutcome | undefined,
  missed: readonly number[] | undefined,
): string[] {
  const run = outcome?.run;
  if (!outcome || !run) {
    return [];
  }
  if (missed !== undefined && missed.length > 0) {
    return releaseEntries(outcome, missed, Date.now()).map(entryText);
  }
  return [runEntryText(outcome, run)];
}

/**
 * The stored text of a release's run entry (the last of {@link releaseEntryTexts}), built from
 * the outcome: the same text as {@link entryText} of the entry.
 */
export function runEntryText(outcome: RunOutcome, run: NonNullable<RunOutcome['run']>): string {
  return (
    '{"kind":"run"' +
    numberField('scheduledAt', run.scheduledAt) +
    numberField('startedAt', Math.round(run.startedAt)) +
    numberField('finishedAt', Math.round(outcome.finishedAt)) +
    numberField('durationMs', Math.max(0, Math.round(outcome.durationMs))) +
    textField('instanceId', run.instanceId) +
    numberField('fencingToken', run.fencingToken) +
    textField('trigger', run.trigger) +
    textField('outcome', run.outcome) +
    textField('error', run.error === null ? null : run.error.slice(0, HISTORY_ERROR_MAX)) +
    '}'
  );
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
    outcome: oneOf(entry.outcome, HISTORY_OUTCOMES) as HistoryOutcome | null,
    error: typeof entry.error === 'string' ? entry.error : null,
  };
}

/**
 * The entry as stored: JSON, in the fields' order, with the fields that are `null` left out.
 * Written by hand, strings escaped by `JSON.stringify`: every run's release writes one, and
 * serialising a whole object costs several times more.
 */
export function entryText(entry: HistoryEntry): string {
  return (
    `{"kind":${JSON.stringify(entry.kind)}` +
    numberField('scheduledAt', entry.scheduledAt) +
    numberField('startedAt', entry.startedAt) +
    numberField('finishedAt', entry.finishedAt) +
    numberField('durationMs', entry.durationMs) +
    textField('instanceId', entry.instanceId) +
    numberField('fencingToken', entry.fencingToken) +
    textField('trigger', entry.trigger) +
    textField('outcome', entry.outcome) +
    textField('error', entry.error) +
    '}'
  );
}

/** `,"key":value`, or nothing for `null` (or a number JSON cannot hold, which reads as `null`). */
function numberField(key: string, value: number | null): string {
  return value !== null && Number.isFinite(value) ? `,"${key}":${numberText(value)}` : '';
}

function textField(key: string, value: string | null): string {
  return value === null ? '' : `,"${key}":${quoted(value)}`;
}

/**
 * `JSON.stringify(value)`, remembered for the last few values: a release writes the same instance
 * id, trigger and outcome run after run, and the same string object compares in one step.
 */
const QUOTED_SLOTS = 8;
const quotedFrom: string[] = [];
const quotedTo: string[] = [];
let quotedNext = 0;

function quoted(value: string): string {
  for (let i = 0; i < quotedFrom.length; i++) {
    if (quotedFrom[i] === value) {
      return quotedTo[i];
    }
  }
  const text = JSON.stringify(value);
  // Short values only: an error message is seldom repeated, and is kept out of the cache.
  if (value.length <= 64) {
    quotedFrom[quotedNext] = value;
    quotedTo[quotedNext] = text;
    quotedNext = (quotedNext + 1) % QUOTED_SLOTS;
  }
  return text;
}

function numberOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function oneOf(value: unknown, allowed: ReadonlySet<string>): string | null {
  return typeof value === 'string' && allowed.has(value) ? value : null;
}
