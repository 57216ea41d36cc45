import type { TriggerChannel } from './trigger.interface.js';
import type {
  RunStatus,
  JobState,
  RunTrigger,
  HistoryOutcome,
  HistoryEntry,
  PauseRequest,
  JobSchedule,
} from './job-state.interface.js';

export type {
  RunStatus,
  JobState,
  RunTrigger,
  HistoryOutcome,
  HistoryKind,
  HistoryEntry,
  PauseRequest,
  JobSchedule,
} from './job-state.interface.js';

/**
 * What an occurrence does when it finds the job's previous run still holding the lock:
 * `'skip'` it (reason `held`), `'queue'` it to run as soon as the lock is released (at most one
 * queued; later ones merge into it), or `'replace'` the running one (its `ctx.signal` aborts with
 * `ReplacedError`) and then run as for `'queue'`.
 *
 * @publicApi
 */
export type OverlapPolicy = 'skip' | 'queue' | 'replace';

/**
 * What a tick asks the store for: claim occurrence `scheduledAt` of job `name` and take its
 * lock for `ttl` ms under the owner `token`, in one atomic step.
 */
export interface AcquireRequest {
  /** The validated lock name of the job. */
  name: string;
  /** A fresh owner token; only its bearer may renew or release this lock. */
  token: string;
  /** Lock lifetime in ms. The lock expires by itself after it unless renewed. */
  ttl: number;
  /**
   * The occurrence being run (ms since epoch). When set, the store refuses an occurrence that
   * is not later than the last one claimed (`tick-done`). Omit it for a plain mutual exclusion.
   * A store rejects (claiming and locking nothing) a value that is not a whole number ≥ 0, or
   * that lies more than 15 minutes ahead of its own clock: see `ScheduledAtRefusedError`.
   */
  scheduledAt?: number;
  /**
   * How long the occurrence marker must outlive this acquisition (ms), so that a late instance
   * with a slower clock still sees that the occurrence ran.
   */
  markerTtl?: number;
  /** Who is asking, recorded for `inspect()`. */
  instanceId: string;
  /**
   * Take the lock even while the job is paused (a manual run asked with `force`). Without it, a
   * paused job is refused as `paused` (see {@link LockStore.pause}).
   */
  force?: boolean;
  /**
   * History entries the job keeps (module option `historySize`): an occurrence this acquisition
   * skips because the job is paused is recorded with at most this many entries kept. 0 or absent
   * records none.
   */
  historySize?: number;
  /**
   * What to do when the lock is held and `scheduledAt` is not done (default `'skip'`): with
   * `'queue'` or `'replace'` the store records the occurrence as the job's one queued occurrence
   * in the same atomic step (answer `queued`), or, when another later occurrence is queued
   * already, answers `merged`; `'replace'` also marks the holder, whose next renewal answers
   * `replaced: true`. A store that does not support it treats it as `'skip'`. An earlier
   * occurrence still queued goes first even when the lock is free (its holder released it and
   * is about to claim the queued one, or its lock expired): `scheduledAt` then merges, and the
   * store hands the queued one to {@link onQueued}.
   */
  overlap?: OverlapPolicy;
  /**
   * Called with the job's queued occurrence when this acquisition found the lock free but an
   * earlier occurrence queued (see {@link overlap}), so that this instance claims it at once.
   * Called with `retryIn` as well when this occurrence merged while the lock is held: the ms the
   * holder's lock has left, after which this instance claims the queued one in case its holder
   * never hands it over (killed, or closing, after queueing it behind its own run). A store that
   * does not say leaves that to the instance that queued it and to the next tick.
   */
  onQueued?: (scheduledAt: number, retryIn?: number) => void;
  /**
   * A plain mutual exclusion that records nothing but the lock and its fencing token: no
   * occurrence (`scheduledAt` absent), no holder, no outcome. A store may then take a leaner path
   * (RedisLockStore does); one that ignores the flag stays correct.
   */
  plain?: boolean;
}

/**
 * What the store knows about the job's last successful run, read in the same step as an
 * acquisition so that every instance can tell "no success for N periods" without another
 * round trip. Optional: a custom store that does not record outcomes may leave it out (its jobs
 * then get no missed-success alert: another instance's success would be invisible).
 */
export interface AcquireHistory {
  /**
   * When the last successful run of the job ended (ms since epoch), fleet-wide; `null` if never.
   * Anything else (NaN, a negative number, one past what a `Date` holds) is logged as store
   * trouble, once, and the job's missed-success alert is not checked on that answer.
   */
  lastSuccessAt?: number | null;
  /**
   * Whether the job is paused fleet-wide now, on a `paused` or `tick-done` answer, and on a
   * `merged` answer for an occurrence merged into a run claimed since: an instance turned away
   * because another one claimed a paused occurrence learns it from this, so that it does not count
   * the occurrence as missed (nor take the job for running). Optional (absent: not known).
   */
  paused?: boolean;
}

/**
 * Why an acquisition was refused: the lock is `held`, the occurrence is done (`tick-done`), the
 * job is `paused`, or,
 * under an overlap policy, the occurrence was `queued` behind the holder, or `merged` into the
 * occurrence queued already.
 */
export type AcquireRefusal = 'held' | 'tick-done' | 'paused' | 'queued' | 'merged';

/** The store's answer to an {@link AcquireRequest}. */
export type AcquireResult =
  | ({
      acquired: true;
      fencingToken: number;
      /**
       * The last occurrence claimed before this one (ms since epoch), `null` when none is known
       * (a new job, or state that expired). The cron's occurrences strictly between it and the
       * claimed one ran nowhere: they were missed. Absent when the store does not say, or
       * without `scheduledAt`.
       */
      previousTick?: number | null;
    } & AcquireHistory)
  | ({
      acquired: false;
      reason: AcquireRefusal;
      /** With `queued`: ms until the holder's lock expires, when the queued occurrence is retried. */
      retryIn?: number;
    } & AcquireHistory);

/** Extends a held lock to `ttl` ms from now, only if `token` still owns it. */
export interface RenewRequest {
  name: string;
  token: string;
  ttl: number;
}

/**
 * `renewed`, or why not: the lock is gone (`expired`) or someone else holds it (`taken`).
 * `replaced: true` when a later occurrence under `overlap: 'replace'` asked the holder to stop:
 * the lock is still extended (the new run waits for its release or expiry).
 */
export type RenewResult =
  | { renewed: true; replaced?: true }
  | { renewed: false; reason: Exclude<LossReason, 'unconfirmed'> };

/** How a run ended, recorded fleet-wide by the release that follows it. */
export interface RunOutcome {
  /** `completed` when the job returned, `failed` when it threw. */
  status: RunStatus;
  /** How long the job ran, in ms. */
  durationMs: number;
  /** When it ended, in ms since epoch (the instance's wall clock). */
  finishedAt: number;
  /**
   * What the job's history records about the run (see {@link HistoryEntry}); absent, the store
   * records no history entry for it.
   */
  run?: RunRecord;
}

/** The fields of a run's {@link HistoryEntry} that the instance knows and the store does not. */
export interface RunRecord {
  /** The occurrence run (ms since epoch), `null` for a run without one. */
  scheduledAt: number | null;
  /** When the job started, in ms since epoch (the instance's wall clock). */
  startedAt: number;
  fencingToken: number;
  instanceId: string;
  trigger: RunTrigger;
  outcome: HistoryOutcome;
  /** The error message of a failed run, redacted and capped; `null` otherwise. */
  error: string | null;
}

/** Frees a lock, only if `token` still owns it. */
export interface ReleaseRequest {
  name: string;
  token: string;
  /**
   * Keep the lock this many more ms instead of deleting it (`minHold`): the key then expires
   * by itself. 0 or absent deletes it now.
   */
  keepFor?: number;
  /**
   * How the run ended. Recorded in the job's state in the same step as the release, whether or
   * not the lock was still ours (a run whose lock was lost still happened). Absent for a release
   * that ends no run (e.g. freeing what an unanswered acquire may have taken).
   */
  outcome?: RunOutcome;
  /**
   * History entries the job keeps (module option `historySize`): the run (`outcome.run`) and the
   * occurrences it found missed are recorded in the same step as the release, the oldest
   * dropped beyond this many. 0 or absent records none. 0 with an `outcome` (the history turned
   * off) also deletes the job's entries in the same step, so that those recorded before never
   * show as the newest; absent, or without an outcome, leaves them.
   */
  historySize?: number;
  /**
   * Occurrences this run found missed (ms since epoch, oldest first), for the job's history. A
   * store without history may ignore them.
   */
  missed?: number[];
  /**
   * Called with the job's queued occurrence (see {@link AcquireRequest.overlap}) when the release
   * finds one, so that the releasing instance claims it at once. A store without overlap
   * support never calls it.
   */
  onQueued?: (scheduledAt: number) => void;
  /**
   * The release of a lock taken with {@link AcquireRequest.plain}: a store may then only delete
   * its own lock (owner-checked), recording no outcome.
   */
  plain?: boolean;
}

/** What the store knows about one job, for `inspect()`: its times in ms since epoch. */
export type StoredLockState = JobState<number>;

/**
 * Why a run lost its lock: it `expired` before a renewal reached the store, another instance
 * has `taken` it, or the store could not confirm a renewal before it would expire
 * (`unconfirmed`).
 *
 * @publicApi
 */
export type LossReason = 'expired' | 'taken' | 'unconfirmed';

/**
 * A place to keep locks. {@link RedisLockStore} for production (any number of processes),
 * {@link MemoryLockStore} for one process (tests, local development). Both pass the same
 * contract test suite; a custom store should too.
 *
 * Every method may reject on a store failure (network, server error); the runner turns
 * that into a `store-error` outcome and never into a crash.
 *
 * The built-in stores' methods that take a job `name` on their own (`inspect()`, `pause()`,
 * `resume()`, `history()`, `registerJob()`, `currentToken()`) reject one no lock can have (1 to 128
 * characters among `A-Z a-z 0-9 . _ : -`) with a `CronLockConfigError`, before any round trip.
 *
 * @publicApi
 */
export interface LockStore {
  /** Claims an occurrence and takes its lock in one atomic step. */
  acquire(request: AcquireRequest): Promise<AcquireResult>;
  /**
   * Extends a lock still owned by `request.token`. A store that knows the lock is lost although
   * it cannot say `expired`/`taken` (e.g. its server was demoted in a failover) rejects with a
   * `LockStoreError` whose `lockLost` is `true`: the runner then reports the loss as
   * `unconfirmed` at once instead of retrying until the deadline.
   */
  renew(request: RenewRequest): Promise<RenewResult>;
  /**
   * Frees (or shortens to `keepFor`) a lock still owned by `request.token`; `true` if it did.
   * Idempotent. The release of an acquisition that failed is sent again until the store answers:
   * a store whose server refused it for good (a permission the user lacks) rejects with a
   * `LockStoreError` whose `answered` is `true`, and it is not sent again.
   */
  release(request: ReleaseRequest): Promise<boolean>;
  /** Reads the state of one job. */
  inspect(name: string): Promise<StoredLockState>;
  /** Round trip to the store, in ms; rejects when unreachable. */
  ping(): Promise<number>;
  /** Frees the store's own resources (never a client the user passed in). */
  close(): Promise<void>;
  /**
   * Optional. What the store is, in one word, for the startup line `Lock store ready (<kind>, …)`:
   * `redis`, `postgresql` and `memory` for the built-in stores. Never a host, URL or secret. A
   * store without it is shown as `custom`.
   */
  readonly kind?: string;
  /**
   * Optional. Startup checks, run once after the first ping: warn (never throw) about a
   * deployment that can lose locks, e.g. RedisLockStore on an evicting maxmemory-policy or with
   * TLS verification off.
   */
  checkDeployment?(): Promise<void>;
  /**
   * Optional. Run once at startup after a successful {@link ping}: rejects with a
   * `LockStoreError` naming the cause and the fix when the store answers but refuses writes (a
   * Redis replica, a PostgreSQL standby or read-only role), so the app says it cannot take locks
   * instead of `Lock store ready`. Resolves when it cannot tell.
   */
  checkWritable?(): Promise<void>;
  /**
   * Optional. Answers an acquisition in the caller's synchronous turn when the store can
   * (MemoryLockStore), so a tick reaches the job in the timer callback that fired it, as
   * `@Cron`'s does. With `joinSameTurn`, a scheduler tick of a later occurrence that finds the
   * lock held by a run of the same instance, started in the same synchronous turn, shares the
   * lock instead of being skipped as `held`. Used only beside its own `acquire`, as `renewNow`.
   */
  acquireNow?(request: AcquireRequest, options?: { joinSameTurn?: boolean }): AcquireResult;
  /**
   * Optional. Answers a renewal in the caller's synchronous turn (MemoryLockStore), so a run
   * renewed from a timer callback has its next renewal armed before the next timer fires: a
   * fake clock advanced synchronously past the ttl never outruns the answer. Used only while the
   * store's `renew` is the one defined beside it: a subclass or Proxy that replaces `renew` is
   * renewed through it.
   */
  renewNow?(request: RenewRequest): RenewResult;
  /**
   * Optional. The store's trigger channel, which `CronLockService.trigger()` and the CLI's
   * `trigger` need: Redis pub/sub, PostgreSQL LISTEN/NOTIFY, in-process for the memory store.
   */
  readonly triggers?: TriggerChannel;
  /**
   * Optional. Pauses the job fleet-wide: from now on every acquisition of it is refused as
   * `paused` (unless `force`) until {@link resume} or `until` (store clock). The first
   * acquisition of an occurrence while paused claims that occurrence and records it in the
   * history, so the other instances are refused as `tick-done`. A job no instance has run yet can
   * be paused too. A lock held now is left alone. The built-in stores reject, before any round
   * trip, a `PauseRequest` whose `until` is not `null` or a whole number of ms a `Date` holds, or
   * whose `reason` is not `null` or a note of 1 to 500 characters on one line.
   */
  pause?(name: string, pause: PauseRequest): Promise<void>;
  /** Optional. Ends a pause; resolves `true` if the job was paused. */
  resume?(name: string): Promise<boolean>;
  /**
   * Optional. The job's last `limit` history entries, newest first. The built-in stores reject a
   * `limit` that is not a whole number ≥ 0 with a `CronLockConfigError`, before any round trip.
   */
  history?(name: string, limit: number): Promise<HistoryEntry[]>;
  /** Optional. Records the job's schedule (cron, time zone) for `inspect()` and the CLI. */
  registerJob?(name: string, schedule: JobSchedule): Promise<void>;
  /** Optional. Every job name the store holds state for (all Cluster masters), `.sort()`ed. */
  listJobs?(): Promise<string[]>;
  /**
   * Optional. The owner token of the job's live lock, or `null` when it is free: what an
   * operator's forced release (the CLI's `release`, the dashboard's) hands to the owner-checked
   * {@link release}, so a lock that changed hands in between is never deleted. Never shown.
   */
  currentToken?(name: string): Promise<string | null>;
}
