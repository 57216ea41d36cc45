import type {
  HistoryOutcome,
  RunOutcome,
  RunRecord,
  RunStatus,
} from '../stores/lock-store.interface.js';
import { HISTORY_ERROR_MAX } from '../stores/history-entries.js';
import { redactThrownText } from '../utils/redact.js';
import { describeThrown } from '../utils/thrown.js';
import type { LockContext } from './lock-context.interface.js';
import { runOfContext, type RunContext } from './run-context.js';
import type { ActiveRun } from './run-tracker.js';

/**
 * The one rule for how a run ended, as its history records it and a triggered run's `finished`
 * reply says: a run whose lock was lost is `lost`, and one whose `ctx.signal` was aborted
 * otherwise (replaced under `overlap: 'replace'`, or given up on by shutdown) `aborted`, whatever
 * the job returned: it was asked to stop, so its work may be cut short. A lost lock takes
 * precedence whichever came first: a replaced run that then lost its lock is `lost`, although its
 * signal's reason stays the `ReplacedError` it was aborted with first.
 */
export function endedAs(status: RunStatus, run: ActiveRun): HistoryOutcome {
  return run.lost ? 'lost' : run.abandoned || run.controller.aborted ? 'aborted' : status;
}

/**
 * The outcome a run's release records, with what the job's history keeps about the run (see
 * RunRecord), its outcome by {@link endedAs}. The status (and so the last success) still says how
 * the job's method ended.
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
    outcome: endedAs(status, run),
    error: status === 'failed' ? historyError(error) : null,
  };
  return { status, durationMs, finishedAt, run: record };
}

/**
 * How the run `ctx` was handed to ended, by the rule its history is recorded with
 * ({@link endedAs}), for a triggered run's `finished` reply: a caller waiting for it must hear the
 * outcome the history shows, not one read again from the signal. Read once the run settled.
 */
export function endedOutcome(ctx: LockContext, status: RunStatus): HistoryOutcome {
  const run = runOfContext(ctx);
  return run === undefined ? status : endedAs(status, run);
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
