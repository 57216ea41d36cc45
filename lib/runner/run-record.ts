import { LockLostError } from '../cron-lock.errors.js';
import type { RunOutcome, RunRecord, RunStatus } from '../stores/lock-store.interface.js';
import { HISTORY_ERROR_MAX } from '../stores/history-entries.js';
import { redactThrownText } from '../utils/redact.js';
import { describeThrown } from '../utils/thrown.js';
import type { LockContext } from './lock-context.interface.js';
import type { RunContext } from './run-context.js';
import type { ActiveRun } from './run-tracker.js';

/**
 * The outcome a run's release records, with what the job's history keeps about the run (see
 * RunRecord): a run whose lock was lost is recorded as `lost`, and one whose `ctx.signal` was
 * aborted otherwise (replaced under `overlap: 'replace'`, or given up on by shutdown) as
 * `aborted`, whatever the job returned: it was asked to stop, so its work may be cut short. The
 * status (and so the last success) still says how the job's method ended.
 */
export function runOutcome(
  status: RunStatus,
  durationMs: number,
  finishedAt: number,
  ctx: RunContext,
  run: ActiveRun,
  occurrence: Date | null,
  error?: unknown,
): RunOutcome {
  const record: RunRecord = {
    scheduledAt: occurrence === null ? null : occurrence.getTime(),
    startedAt: finishedAt - durationMs,
    fencingToken: ctx.fencingToken,
    instanceId: ctx.instanceId,
    trigger: ctx.trigger,
    outcome: run.lost ? 'lost' : run.abandoned || run.controller.aborted ? 'aborted' : status,
    error: status === 'failed' ? historyError(error) : null,
  };
  return { status, durationMs, finishedAt, run: record };
}

/**
 * How a run ended as {@link runOutcome} records it, read from its context alone (a triggered
 * run's `finished` reply): a caller waiting for it must not hear `completed` for a run that was
 * told to stop and returned early, while its history says `lost`.
 */
export function endedOutcome(ctx: LockContext, status: RunStatus): RunStatus | 'lost' | 'aborted' {
  if (!ctx.signal.aborted) {
    return status;
  }
  return ctx.signal.reason instanceof LockLostError ? 'lost' : 'aborted';
}

/**
 * A job's error as its history shows it: `Name: message`, with credentials in URLs and owner
 * tokens hidden, capped at {@link HISTORY_ERROR_MAX} characters. The history is read by operators
 * (CLI, dashboard) who may not see the app's logs: nothing secret may reach it.
 */
export function historyError(error: unknown): string {
  const { name, message } = describeThrown(error);
  const text = redactThrownText(`${name}: ${message}`);
  return text.length > HISTORY_ERROR_MAX ? `${text.slice(0, HISTORY_ERROR_MAX - 1)}…` : text;
}
