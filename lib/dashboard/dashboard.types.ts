/**
 * A job's state as the dashboard shows it: `running` (a lock is held somewhere), `paused`,
 * `failing` (its last runs failed), `idle`.
 *
 * @publicApi
 */
export type JobStatus = 'running' | 'paused' | 'failing' | 'idle';

/**
 * One entry of a job's history in the dashboard's JSON: a run, a missed occurrence or a skip.
 *
 * @publicApi
 */
export interface DashboardHistoryEntry {
  /** `run`, `missed`, `paused`, `merged`. */
  kind: string;
  scheduledAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  instanceId: string | null;
  /** `schedule`, `catch-up` or `manual`. */
  trigger: string | null;
  /** For runs: `completed`, `failed`, `lost`, `aborted`. */
  outcome: string | null;
  /** The (redacted) error message of a failed run. */
  error: string | null;
}

/**
 * One job in the dashboard's JSON (`<path>/api/jobs`); times are ISO 8601 text in UTC.
 *
 * @publicApi
 */
export interface DashboardJob {
  name: string;
  status: JobStatus;
  holder: string | null;
  ttlLeftMs: number | null;
  /** Whether the instance serving the page is the one running it. */
  runningHere: boolean;
  paused: boolean;
  pauseReason: string | null;
  pausedUntil: string | null;
  lastTick: string | null;
  lastSuccessAt: string | null;
  lastDurationMs: number | null;
  lastOutcome: string | null;
  lastFinishedAt: string | null;
  consecutiveFailures: number;
  fencingToken: number | null;
  cron: string | null;
  timeZone: string | null;
  nextAt: string | null;
  history: DashboardHistoryEntry[];
}

/**
 * The dashboard's JSON (`GET <path>/api/jobs`): what the page shows, for scripts and monitors.
 *
 * @publicApi
 */
export interface DashboardSnapshot {
  generatedAt: string;
  /** The instance that answered. */
  servedBy: string | null;
  /** Whether the actions are enabled. */
  actions: boolean;
  /**
   * Whether the store keeps run history (it has the fleet-control `history()`), whatever this
   * app's `historySize`: the history is written by the apps that run the jobs.
   */
  historyAvailable: boolean;
  /** The `job` filter the snapshot was asked with (a part of the name), or `null` for none. */
  filter: string | null;
  /** How many jobs match the filter (all of them without one); `jobs` holds at most 200. */
  totalJobs: number;
  /** The first of the matching jobs by name (the one named exactly as the filter first). */
  jobs: DashboardJob[];
}
