/* What the stores keep about each job, beyond its lock: state, history, pause and schedule. */

/**
 * How a run ended: `completed` when the job returned, `failed` when it threw.
 *
 * @publicApi
 */
export type RunStatus = 'completed' | 'failed';

/**
 * What is known about one job, across all instances. One shape from the store to
 * `CronLockService.inspect()` and the CLI's `status --json`; only the times differ, as `T`: ms
 * since epoch from a store ({@link StoredLockState}), a `Date` from `inspect()`, ISO text in the
 * CLI's JSON; and `holder`, whose URL password `inspect()` and the CLI hide.
 *
 * @publicApi
 */
export interface JobState<T = number> {
  /** The lock name. */
  name: string;
  /**
   * Instance id of the current holder, or `null` when the lock is free or the store records no
   * holder for it (a plain lock on Redis or PostgreSQL): `ttlLeft` tells held from free. From
   * `inspect()` and the CLI, a URL's password hidden (an older version took a connection string
   * as an id).
   */
  holder: string | null;
  /** Milliseconds before the current lock expires, or `null` when free. */
  ttlLeft: number | null;
  /**
   * The last occurrence claimed, across all instances: the one in progress while the lock is
   * held, else the last one run; `null` if none is known.
   */
  lastTick: T | null;
  /** The last fencing token handed out, or `null` if none is known. */
  fencingToken: number | null;
  /** When the last successful run ended, across all instances; `null` if none is known. */
  lastSuccessAt: T | null;
  /** How long the last successful run took, in ms; `null` if none is known. */
  lastDurationMs: number | null;
  /**
   * Runs that failed in a row since the last success, across all instances (0 after a success
   * or with no history).
   */
  consecutiveFailures: number;
  /** How the last run that reported ended; `null` if none is known. */
  lastOutcome: RunStatus | null;
  /** When the last run that reported ended (success or failure); `null` if none is known. */
  lastFinishedAt: T | null;
  /** Whether the job is paused fleet-wide now (a pause whose `until` has passed is not). */
  paused: boolean;
  /** The note given with the pause; `null` when none or not paused. */
  pauseReason: string | null;
  /** When the pause ends by itself; `null` when it lasts until resumed, or when not paused. */
  pausedUntil: T | null;
  /** The job's cron expression, as an instance registered it; `null` if none did. */
  cron: string | null;
  /** The time zone of {@link cron}; `null` for the instance's local time or when unknown. */
  timeZone: string | null;
  /** The next scheduled occurrence after now, from {@link cron}; `null` when unknown. */
  nextAt: T | null;
}

/**
 * What started a run: a scheduler tick, a catch-up of a missed occurrence, or a manual run.
 *
 * @publicApi
 */
export type RunTrigger = 'schedule' | 'catch-up' | 'manual';

/**
 * How a run recorded in the history ended: `completed` (returned), `failed` (threw), `lost` (its
 * lock was lost while it ran, whatever it returned), `aborted` (replaced by a later occurrence
 * under `overlap: 'replace'`: its signal aborted with a `ReplacedError`, whatever it returned). A
 * run that shutdown gave up on is not released, so it has no entry.
 *
 * @publicApi
 */
export type HistoryOutcome = 'completed' | 'failed' | 'lost' | 'aborted';

/**
 * What a history entry records: a `run`, an occurrence found `missed` (no instance ran it), one
 * skipped because the job was `paused`, or one `merged` into another run by an overlap policy.
 *
 * @publicApi
 */
export type HistoryKind = 'run' | 'missed' | 'paused' | 'merged';

/**
 * One entry of a job's history, newest first from `CronLockService.history()`. Fields that do not
 * apply to the entry's kind are `null` (a `missed` occurrence has no instance, no duration). Times
 * as `T`: ms since epoch from a store, `Date` from the service, ISO text in the CLI's JSON.
 *
 * @publicApi
 */
export interface HistoryEntry<T = number> {
  kind: HistoryKind;
  /** The occurrence concerned; `null` for a run without one. */
  scheduledAt: T | null;
  /** When the run started (runs only). */
  startedAt: T | null;
  /** When the run ended (runs), or when the occurrence was recorded (others). */
  finishedAt: T | null;
  /** How long the run took, in ms (runs only). */
  durationMs: number | null;
  /**
   * The instance that ran the job, or that recorded the skip; from `history()` and the CLI, a
   * URL's password hidden.
   */
  instanceId: string | null;
  /** The run's fencing token (runs only). */
  fencingToken: number | null;
  /** What started the run (runs only). */
  trigger: RunTrigger | null;
  /** How the run ended (runs only). */
  outcome: HistoryOutcome | null;
  /** The error message of a failed run, redacted (no secrets) and capped; `null` otherwise. */
  error: string | null;
}

/**
 * A fleet-wide pause, as a store keeps it: `reason` (optional note) and `until` (ms since epoch
 * on the store's clock, after which the job runs again by itself; `null` until resumed).
 */
export interface PauseRequest {
  reason: string | null;
  until: number | null;
}

/** What instances tell the store about a job at bootstrap, so tools without the app's code can show it. */
export interface JobSchedule {
  /** The cron expression. */
  cron: string;
  /** The IANA time zone it is read in; `null` for the instance's local time. */
  timeZone: string | null;
}
