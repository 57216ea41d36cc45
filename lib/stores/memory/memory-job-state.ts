import type {
  HistoryEntry,
  JobSchedule,
  PauseRequest,
  RunOutcome,
} from '../lock-store.interface.js';
import { occurrenceEntry } from '../history-entries.js';
import { unrefTimer } from '../../utils/unref-timer.js';

/* What the in-memory store keeps per lock and per job, and the rules the Redis scripts apply to it. */

export interface MemoryLock {
  /** The owner tokens of the runs holding it: one, or more that joined in one turn (acquireNow). */
  tokens: Set<string>;
  holder: string;
  expiresAt: number;
  /** The synchronous turn of the acquisition, for scheduler ticks (see acquireNow); else NaN. */
  tickTurn: number;
}

export interface MemoryJobState {
  lastTick: number | null;
  fencingToken: number;
  lastSuccessAt: number | null;
  lastDurationMs: number | null;
  consecutiveFailures: number;
  lastOutcome: 'completed' | 'failed' | null;
  lastFinishedAt: number | null;
  /** The pause in force, if any (`until` on this process's wall clock). */
  pause: PauseRequest | null;
  schedule: JobSchedule | null;
  /** Newest first, at most the `historySize` of the last write. */
  history: HistoryEntry[];

  /** The occurrence queued behind the holder (overlap); live only while later than lastTick. */
  queued: number | null;
  /** The latest occurrence merged into a queued one: not missed, see previousTickOf. */
  merged: number | null;
  /** The owner token an `overlap: 'replace'` occurrence asked to stop. */
  replaceToken: string | null;
}

export function emptyJobState(): MemoryJobState {
  return {
    lastTick: null,
    fencingToken: 0,
    lastSuccessAt: null,
    lastDurationMs: null,
    consecutiveFailures: 0,
    lastOutcome: null,
    lastFinishedAt: null,
    pause: null,
    schedule: null,
    history: [],

    queued: null,
    merged: null,
    replaceToken: null,
  };
}

/** The pause of `state` if it is in force at `now` (wall clock): one whose `until` passed is not. */
export function pauseInForce(state: MemoryJobState | undefined, now: number): PauseRequest | null {
  const pause = state?.pause ?? null;
  return pause !== null && (pause.until === null || pause.until > now) ? pause : null;
}

/** The occurrence queued behind the holder, or `null` when none is (or it ran since). */
export function queuedOf(state: MemoryJobState): number | null {
  return state.queued !== null && (state.lastTick === null || state.queued > state.lastTick)
    ? state.queued
    : null;
}

/**
 * Same rules as the Redis acquire script: the last occurrence claimed before `scheduledAt`, or
 * the latest one merged into a queued run if later (it is not missed).
 */
export function previousTickOf(state: MemoryJobState, scheduledAt: number): number | null {
  let previous = state.lastTick !== null && state.lastTick < scheduledAt ? state.lastTick : null;
  if (state.merged !== null && state.merged < scheduledAt && state.merged > (previous ?? -1)) {
    previous = state.merged;
  }
  return previous;
}

/**
 * Whether occurrence `scheduledAt` was merged into a queued one that has been claimed since (none
 * is queued now): that run stands for it (see ACQUIRE_SCRIPT).
 */
export function mergedAlready(
  state: MemoryJobState,
  scheduledAt: number,
  overlap: string | undefined,
): boolean {
  return (
    (overlap === 'queue' || overlap === 'replace') &&
    state.merged !== null &&
    state.merged >= scheduledAt &&
    queuedOf(state) === null
  );
}

/** An occurrence that found the lock held under `overlap` queue or replace (see OverlapPolicy). */
export function queueBehind(
  state: MemoryJobState,
  scheduledAt: number,
  overlap: 'queue' | 'replace',
  held: MemoryLock,
  now: number,
  by: { instanceId: string; historySize?: number },
): { acquired: false; reason: 'queued' | 'merged'; retryIn?: number } {
  const queued = queuedOf(state);
  if (queued !== null && queued !== scheduledAt) {
    return mergeInto(state, scheduledAt, by);
  }
  state.queued = scheduledAt;
  if (overlap === 'replace') {
    state.replaceToken = [...held.tokens][0] ?? null;
  }
  return { acquired: false, reason: 'queued', retryIn: Math.max(0, held.expiresAt - now) };
}

/** Occurrence `scheduledAt` merges into the job's queued one. */
export function mergeInto(
  state: MemoryJobState,
  scheduledAt: number,
  by: { instanceId: string; historySize?: number },
): { acquired: false; reason: 'merged' } {
  // Recorded by the acquisition that moves `merged` forward: one entry fleet-wide.
  if (state.merged === null || state.merged < scheduledAt) {
    state.merged = scheduledAt;
    const entry = occurrenceEntry('merged', scheduledAt, by.instanceId, Date.now());
    record(state, [entry], by.historySize);
  }
  return { acquired: false, reason: 'merged' };
}

/** Adds `entries` (oldest first) to the job's history, newest first, keeping `size` at most. */
export function record(
  state: MemoryJobState,
  entries: HistoryEntry[],
  size: number | undefined,
): void {
  if (!size || size <= 0 || entries.length === 0) {
    return;
  }
  state.history = [...entries].reverse().concat(state.history).slice(0, size);
}

/**
 * A run's entries (see {@link record}). With the history off (`size` 0) the job keeps none: the
 * entries recorded while it was on are dropped, not left to show as the newest. Absent, the size
 * is not known: nothing is recorded and nothing dropped.
 */
export function recordRun(
  state: MemoryJobState,
  entries: HistoryEntry[],
  size: number | undefined,
): void {
  if (size !== undefined && size <= 0) {
    state.history = [];
    return;
  }
  record(state, entries, size);
}

/**
 * Records how a run ended in the job's state. Same rules as the Redis release script: see
 * `stores/redis/release.ts`.
 */
export function recordOutcome(state: MemoryJobState, outcome: RunOutcome): void {
  const now = Date.now();
  const reported = Math.round(outcome.finishedAt);
  // Not `Math.min`: a NaN report is recorded at the current time too.
  const finishedAt = reported <= now ? reported : now;
  if (outcome.status === 'completed') {
    if (state.lastSuccessAt === null || finishedAt >= state.lastSuccessAt) {
      state.lastSuccessAt = finishedAt;
      // Never below 0, as the other stores and the history entry record it.
      state.lastDurationMs = Math.max(0, Math.round(outcome.durationMs));
    }
    state.consecutiveFailures = 0;
  } else {
    state.consecutiveFailures += 1;
  }
  state.lastOutcome = outcome.status;
  state.lastFinishedAt = finishedAt;
}

/**
 * Ends the hold that a release with `keepFor` (`minHold`) left on `lock` when a timer of that
 * length fires, if the clock has not ended it first: the store's default clock is
 * `performance.now()`, which fake timers that fake only the timer functions and `Date` leave
 * running, and a test that advances them past the hold must find the lock free, as it would on
 * the test's clock. A lock taken again since (a new object), or joined in the meantime, is left
 * alone. Unref'd: a hold never keeps the process alive.
 */
export function endHoldByTimer(
  locks: Map<string, MemoryLock>,
  name: string,
  lock: MemoryLock,
  ms: number,
): void {
  const timer = setTimeout(() => {
    if (locks.get(name) === lock && lock.tokens.size === 1) {
      locks.delete(name);
    }
  }, Math.ceil(ms));
  unrefTimer(timer);
}
