import {
  DEFAULT_HISTORY_SIZE,
  LOCK_NAME_PATTERN,
  MAX_HISTORY_SIZE,
  MAX_PAUSE_REASON_LENGTH,
} from './cron-lock.constants.js';
import { CronLockConfigError } from './cron-lock.errors.js';
import {
  INVALID_FLEET_ARGUMENT,
  INVALID_LOCK_NAME,
  JOB_PAUSED,
  JOB_RESUMED,
  REGISTER_JOBS_FAILED,
  SERVICE_CALL,
  STORE_CLOSED_WITH_APP,
  STORE_LACKS_OPERATION,
} from './cron-lock.messages.js';
import type { CronLockRegistry } from './cron-lock.registry.js';
import type { CronLockLogger } from './observer/logger.js';
import type { RunObserver } from './observer/run-observer.js';
import type { RunTracker } from './runner/run-tracker.js';
import type {
  HistoryEntry,
  JobSchedule,
  JobState,
  LockStore,
} from './stores/lock-store.interface.js';
import { mapBounded } from './utils/bounded-map.js';
import { MAX_DURATION_MS, parseDuration, type Duration } from './utils/duration.js';
import { rejectEmptyOptions } from './utils/empty-options.js';
import { isPauseNote } from './stores/store-arguments.js';
import {
  describeStoreError,
  keptPauseNote,
  redactThrownText,
  redactUrl,
  shownInstanceId,
} from './utils/redact.js';

/**
 * What {@link CronLockService.inspect} reports per job: the {@link JobState} the store keeps,
 * its times as `Date`s, and whether the job runs here.
 *
 * @publicApi
 */
export interface LockInspection extends JobState<Date> {
  /** Whether the job is running on this instance now. */
  runningHere: boolean;
}

/**
 * Options of {@link CronLockService.pause}.
 *
 * @publicApi
 */
export interface PauseOptions {
  /**
   * A note for operators (shown by `inspect()`, the CLI and the logs): 1 to 500 characters. The
   * password of a URL it quotes is hidden (`redis://user:***@host`) before it is kept.
   */
  reason?: string;
  /**
   * When the pause ends by itself: a `Date`, or a duration from now (`'2h'`, ms). In the future
   * and at most 2^31-1 ms (about 24.8 days) ahead. Absent: until {@link CronLockService.resume}.
   */
  until?: Date | Duration;
}

/**
 * Options of {@link CronLockService.history}.
 *
 * @publicApi
 */
export interface HistoryOptions {
  /** How many entries, newest first: a whole number from 1 to 1000. Default 100. */
  limit?: number;
}

/**
 * Fleet control behind {@link CronLockService}: inspect, pause, resume and history, kept in the lock
 * store so that every instance (and the CLI) sees the same answer. Arguments are checked here,
 * with {@link CronLockConfigError}s naming the call and the fix, before the store is asked.
 */
export class FleetControl {
  constructor(
    private readonly store: LockStore,
    private readonly observer: RunObserver,
    private readonly logger: CronLockLogger,
    private readonly instanceId: string,
    private readonly tracker: RunTracker,
  ) {}

  /** `call` names the service's call in errors: `inspect()` reads each name through this one. */
  async inspect(name: string, call = SERVICE_CALL('inspect', name)): Promise<LockInspection> {
    // Checked as pause() checks it: a job's name with a space (its lock name has '_') or a
    // typo'd brace would read a lock that cannot exist and answer "free, never run".
    checkName(call, name);
    const state = await this.ask(call, (store) => store.inspect(name));
    return {
      name,
      // Written by an older instance that took a connection string as its id: app code logs this.
      holder: shownInstanceId(state.holder),
      ttlLeft: state.ttlLeft,
      lastTick: state.lastTick === null ? null : new Date(state.lastTick),
      fencingToken: state.fencingToken,
      // `?? null`: a custom store written before these fields existed leaves them out.
      lastSuccessAt: dateOrNull(state.lastSuccessAt),
      lastDurationMs: state.lastDurationMs ?? null,
      consecutiveFailures: state.consecutiveFailures ?? 0,
      lastOutcome: state.lastOutcome ?? null,
      lastFinishedAt: dateOrNull(state.lastFinishedAt),
      paused: state.paused ?? false,
      // Also a note the store's own pause() kept as given (see checkReason).
      pauseReason: typeof state.pauseReason === 'string' ? redactUrl(state.pauseReason) : null,
      pausedUntil: dateOrNull(state.pausedUntil),
      cron: state.cron ?? null,
      timeZone: state.timeZone ?? null,
      nextAt: dateOrNull(state.nextAt),
      runningHere: this.tracker.runningNames().includes(name),
    };
  }

  inspectAll(names: string[], atOnce: number): Promise<LockInspection[]> {
    return mapBounded(names, atOnce, (name) => this.inspect(name, 'CronLockService.inspect()'));
  }

  ping(): Promise<number> {
    return this.ask('CronLockService.ping()', (store) => store.ping());
  }

  async pause(name: string, options: PauseOptions | undefined): Promise<void> {
    const call = SERVICE_CALL('pause', name);
    checkName(call, name);
    const checked = checkOptions(call, options, PAUSE_DEFAULTS);
    const reason = checkReason(call, checked.reason);
    const until = checkUntil(call, checked.until, Date.now());
    const store = this.store;
    if (!store.pause) {
      throw new CronLockConfigError(STORE_LACKS_OPERATION(call, 'pause'));
    }
    await this.ask(call, () => store.pause!(name, { reason, until }));
    this.observer.pausedJobs.paused(name, until);
    const untilDate = until === null ? null : new Date(until);
    this.logger.info(JOB_PAUSED(name, reason, untilDate?.toISOString() ?? null));
    this.observer.events.emit('paused', {
      name,
      scheduledAt: null,
      instanceId: this.instanceId,
      reason,
      until: untilDate,
    });
  }

  async resume(name: string): Promise<boolean> {
    const call = SERVICE_CALL('resume', name);
    checkName(call, name);
    const store = this.store;
    if (!store.resume) {
      throw new CronLockConfigError(STORE_LACKS_OPERATION(call, 'resume'));
    }
    const wasPaused = await this.ask(call, () => store.resume!(name));
    this.observer.pausedJobs.notPaused(name);
    this.logger.info(JOB_RESUMED(name, wasPaused));
    this.observer.events.emit('resumed', {
      name,
      scheduledAt: null,
      instanceId: this.instanceId,
      wasPaused,
    });
    return wasPaused;
  }

  async history(name: string, options: HistoryOptions | undefined): Promise<HistoryEntry<Date>[]> {
    const call = SERVICE_CALL('history', name);
    checkName(call, name);
    const { limit = DEFAULT_HISTORY_SIZE } = checkOptions(call, options, HISTORY_DEFAULTS);
    if (
      typeof limit !== 'number' ||
      !Number.isSafeInteger(limit) ||
      limit < 1 ||
      limit > MAX_HISTORY_SIZE
    ) {
      throw new CronLockConfigError(
        INVALID_FLEET_ARGUMENT(
          call,
          'limit',
          `a whole number from 1 to ${MAX_HISTORY_SIZE}`,
          limit,
        ),
      );
    }
    const store = this.store;
    if (!store.history) {
      throw new CronLockConfigError(STORE_LACKS_OPERATION(call, 'history'));
    }
    const entries = await this.ask(call, () => store.history!(name, limit));
    return entries.map(historyDates);
  }

  /**
   * Once `app.close()` closed the store the module made, a failure (a closed connection, read as an
   * outage) is named with the call and the fix. Not refused up front: a client passed in answers.
   */
  private async ask<T>(call: string, request: (store: LockStore) => Promise<T>): Promise<T> {
    try {
      return await request(this.store);
    } catch (error) {
      throw this.tracker.isStoreClosed
        ? new CronLockConfigError(STORE_CLOSED_WITH_APP(call))
        : error;
    }
  }

  /**
   * Records the schedule of every cron job of this app in the store, so that `inspect()` and the
   * CLI can show the expression and the next run. Never fails the bootstrap: a store that cannot
   * keep it (or is down) is logged once.
   */
  async registerJobs(registry: CronLockRegistry): Promise<void> {
    const store = this.store;
    if (!store.registerJob) {
      return;
    }
    const jobs: Array<[string, JobSchedule]> = [];
    for (const bound of registry.all()) {
      const schedule = bound.binding.schedule;
      if (schedule?.kind === 'cron') {
        const timeZone =
          schedule.utcOffset !== undefined
            ? offsetZone(schedule.utcOffset)
            : (schedule.timeZone ?? null);
        jobs.push([bound.binding.job.name, { cron: schedule.cronTime, timeZone }]);
      }
    }
    const results = await Promise.allSettled(
      jobs.map(([name, schedule]) => store.registerJob!(name, schedule)),
    );
    const failed = results.filter((result) => result.status === 'rejected');
    if (failed.length > 0) {
      this.logger.warn(REGISTER_JOBS_FAILED(failed.length, describeStoreError(failed[0]!.reason)));
    }
  }
}

/** A fixed `utcOffset` (minutes) as a zone the `cron` package and Luxon read: `UTC+05:30`. */
function offsetZone(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  const hours = String(Math.floor(abs / 60)).padStart(2, '0');
  return `UTC${sign}${hours}:${String(abs % 60).padStart(2, '0')}`;
}

function checkName(call: string, name: unknown): void {
  if (typeof name !== 'string' || !LOCK_NAME_PATTERN.test(name)) {
    throw new CronLockConfigError(INVALID_LOCK_NAME(call, name));
  }
}

/**
 * What leaving each option out gives, for the error on one present but empty: `until: undefined`
 * (an unset variable) must not pause a job until someone happens to resume it.
 */
const PAUSE_DEFAULTS = { reason: 'no reason', until: 'a pause until resume()' };
const HISTORY_DEFAULTS = { limit: `the default ${DEFAULT_HISTORY_SIZE}` };

/** `defaults` names the known keys, with what leaving each out gives. */
function checkOptions<T extends object>(
  call: string,
  options: T | undefined,
  defaults: Readonly<Record<string, string>>,
): Partial<Record<string, unknown>> & T {
  if (options === undefined) {
    return {} as T;
  }
  const known = Object.keys(defaults);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CronLockConfigError(
      INVALID_FLEET_ARGUMENT(call, 'options', `an object such as { ${known[0]}: … }`, options),
    );
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new CronLockConfigError(
        INVALID_FLEET_ARGUMENT(call, 'option', `only ${known.join(', ')}`, key),
      );
    }
  }
  rejectEmptyOptions(call, options, defaults);
  return options as Partial<Record<string, unknown>> & T;
}

function checkReason(call: string, reason: unknown): string | null {
  if (reason === undefined) {
    return null;
  }
  // Checked as the user gave it: the limit is theirs to count, and a hidden password can be
  // longer than what it hid (`u:p@` becomes `u:***@`).
  if (!isPauseNote(reason)) {
    throw new CronLockConfigError(
      INVALID_FLEET_ARGUMENT(
        call,
        'reason',
        `a note of 1 to ${MAX_PAUSE_REASON_LENGTH} characters, on one line with no bidi override, or no reason at all`,
        reason,
      ),
    );
  }
  return keptPauseNote(reason);
}

/** `until` as ms since epoch (`null`: until resumed), in the future and within a timer's range. */
function checkUntil(call: string, until: unknown, now: number): number | null {
  if (until === undefined) {
    return null;
  }
  const expected =
    `a Date or a duration (such as '2h') in the future, at most ${MAX_DURATION_MS}ms ` +
    `(about 24.8 days) ahead, or no until at all (paused until resumed)`;
  let at: number | undefined;
  if (until instanceof Date) {
    at = until.getTime();
  } else {
    const ms = parseDuration(until as Duration);
    at = ms === undefined ? undefined : now + ms;
  }
  if (at === undefined || !Number.isFinite(at) || at <= now || at - now > MAX_DURATION_MS) {
    throw new CronLockConfigError(INVALID_FLEET_ARGUMENT(call, 'until', expected, until));
  }
  return Math.ceil(at);
}

function historyDates(entry: HistoryEntry): HistoryEntry<Date> {
  return {
    ...entry,
    // An older version or a custom store may have kept it unredacted: redacted when read, as notes.
    error: typeof entry.error === 'string' ? redactThrownText(entry.error) : entry.error,
    instanceId: shownInstanceId(entry.instanceId),
    scheduledAt: dateOrNull(entry.scheduledAt),
    startedAt: dateOrNull(entry.startedAt),
    finishedAt: dateOrNull(entry.finishedAt),
  };
}

function dateOrNull(ms: number | null | undefined): Date | null {
  return ms === null || ms === undefined ? null : new Date(ms);
}
