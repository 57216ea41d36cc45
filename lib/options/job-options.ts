import { CronLockConfigError } from '../cron-lock.errors.js';
import {
  CATCH_UP_WINDOW_TOO_SHORT,
  CATCH_UP_WINDOW_WITHOUT_CATCH_UP,
  DURATION_TOO_LONG,
  INVALID_MODE,
  INVALID_OPTION,
  INVALID_OPTIONS_OBJECT,
  INVALID_TTL,
  MIN_HOLD_OVER_TTL,
  OPTION_EMPTY,
  POLICY_NEEDS_SCHEDULE,
  UNKNOWN_OPTION,
} from '../cron-lock.messages.js';
import type { MissedReason } from '../observer/events.js';
import type { OverlapPolicy } from '../stores/lock-store.interface.js';
import { didYouMean } from '../utils/did-you-mean.js';
import { MAX_DURATION_MS, parseDuration } from '../utils/duration.js';

/** What the runner runs: a job's validated lock settings. */
export interface LockJob {
  /** The lock name. */
  name: string;
  /** `Class.method` of a decorated method, for messages; absent for `CronLockService.run()`. */
  label?: string;
  /** Lock ttl in ms. */
  ttl: number;
  /** Renew while running. */
  renew: boolean;
  /** Keep the lock at least this long after acquisition, in ms. */
  minHold: number;
  /** How long the occurrence marker must outlive a run, in ms (twice the period). */
  markerTtl?: number;
  /**
   * Time between two occurrences, in ms (from the cron expression or interval); absent for
   * jobs without a schedule. Enables the `missed-success` alert.
   */
  periodMs?: number;
  /** The overlap policy sent with each acquisition (`queue`, `replace`); absent: `skip`. */
  overlap?: OverlapPolicy;
  /**
   * The cron's occurrences strictly between two claimed ones (at most a few, oldest first, and
   * how many more), to report what was missed; absent for jobs without a cron schedule.
   */
  missedBetween?: (after: number, before: number) => { occurrences: number[]; more: number };
  /** Why an occurrence this job's claim found missed was not run, when the job knows (catch-up). */
  missedReason?: (scheduledAt: number) => MissedReason | null;
  /** `ctx.trigger` of the runs of this job; absent: by occurrence (`schedule` or `manual`). */
  trigger?: 'catch-up';
  /**
   * Called with the occurrence queued behind a run when its release finds one, or when an
   * acquisition found the lock free with an earlier one still queued (overlap); with `retryIn`
   * (ms) when an acquisition merged into it while the lock is held: claim it then.
   */
  onQueued?: (scheduledAt: number, retryIn?: number) => void;
  /**
   * A plain lock (`run()` without `scheduledAt` or `record`, on a name no job is bound to): the
   * store may take its lean path, recording nothing but the lock.
   */
  plain?: boolean;
  /** Run even while the job is paused: a `CronLockService.trigger()` asked with `force`. */
  force?: boolean;
}

/** Where lock options come from: each takes its own keys. */
export type LockOptionsSource = 'LockedCron' | 'CronLock' | 'run';

/** The options of the lock itself (`@CronLock`). */
const LOCK_KEYS = ['ttl', 'name', 'renew', 'minHold'] as const;

/**
 * The keys each source takes. `@LockedCron` takes the lock's and every key of
 * `@nestjs/schedule`'s `CronOptions`, as a drop-in for `@Cron` must; `run()` takes no name (its
 * first argument) and no schedule.
 */
export const KNOWN_OPTION_KEYS: Record<LockOptionsSource, readonly string[]> = {
  CronLock: LOCK_KEYS,
  LockedCron: [
    ...LOCK_KEYS,
    'timeZone',
    'utcOffset',
    'disabled',
    'initialDelay',
    'waitForCompletion',
    'threshold',
    'unrefTimeout',
    'catchUp',
    'catchUpWindow',
    'overlap',
  ],
  run: ['ttl', 'renew', 'minHold', 'scheduledAt', 'record'],
};

/** What leaving each key out gives, for the error on one present but empty. */
const OPTION_DEFAULTS: Readonly<Record<string, string>> = {
  ttl: "the module's defaultTtl",
  name: 'the default ClassName.methodName',
  renew: 'the default true',
  minHold: 'the default 0',
  timeZone: "the process's time zone",
  utcOffset: "the process's time zone",
  disabled: 'the default false',
  initialDelay: 'the default 0',
  waitForCompletion: 'the default false',
  threshold: 'the default 250ms',
  unrefTimeout: 'the default false',
  catchUp: 'reporting missed occurrences without running them',
  catchUpWindow: 'the default 1d',
  overlap: "the default 'skip'",
  scheduledAt: 'a lock that claims no occurrence',
  record: 'the default false',
};

const BOOLEAN_KEYS = new Set(['renew', 'disabled', 'waitForCompletion', 'unrefTimeout', 'record']);
/** Milliseconds that go to a timer (`initialDelay`) or are compared with timer delays. */
const MILLISECOND_KEYS = new Set(['initialDelay', 'threshold']);

/**
 * Checks the shape of a job's or a `run()` call's options, as module options are checked: an
 * object, no unknown key (with a did-you-mean for a near miss, so `{ timezone }` cannot run a job
 * in the process's zone), and the right type for every flag and number. Durations (`ttl`,
 * `minHold`) are read by {@link resolveLockTimes}; the name pattern, time zone and scheduled
 * time by their callers. Throws {@link CronLockConfigError} naming `where`.
 */
export function checkLockOptions(
  where: string,
  options: unknown,
  source: LockOptionsSource,
): Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CronLockConfigError(INVALID_OPTIONS_OBJECT(where, options, source === 'run'));
  }
  const known = KNOWN_OPTION_KEYS[source];
  const record = options as Record<string, unknown>;
  // for…in rather than Object.entries: `run()` checks its options on every call, and an array
  // of pairs per call is garbage for the collector when many jobs run at once.
  for (const key in record) {
    if (!Object.prototype.hasOwnProperty.call(record, key)) {
      continue;
    }
    const value = record[key];
    if (!known.includes(key)) {
      throw new CronLockConfigError(UNKNOWN_OPTION(where, key, didYouMean(key, known), known));
    }
    if (value === undefined || value === null) {
      // `{ timeZone: config.get('TZ') }` with the variable unset: the key was meant to carry a
      // value, and its default (the process's zone, no catch-up, a lock without an occurrence)
      // would change what the job does without a word.
      throw new CronLockConfigError(OPTION_EMPTY(where, key, value, OPTION_DEFAULTS[key]));
    }
    if (BOOLEAN_KEYS.has(key) && typeof value !== 'boolean') {
      throw new CronLockConfigError(INVALID_OPTION(where, key, 'true or false', value));
    }
    if (key === 'name' && typeof value !== 'string') {
      throw new CronLockConfigError(INVALID_OPTION(where, key, 'a string', value));
    }
    if (key === 'name' && value !== '' && (value as string).trim() === '') {
      // A setting left blank: '   ' passed the name pattern as '___' (a space stands for '_'),
      // so every job named by such a setting shared one lock. '' fails the pattern itself.
      throw new CronLockConfigError(OPTION_EMPTY(where, key, value, OPTION_DEFAULTS[key]));
    }
    if (
      MILLISECOND_KEYS.has(key) &&
      !(typeof value === 'number' && value >= 0 && value <= MAX_DURATION_MS)
    ) {
      throw new CronLockConfigError(
        INVALID_OPTION(where, key, `a number of milliseconds from 0 to ${MAX_DURATION_MS}`, value),
      );
    }
  }
  return record;
}

/** The lock durations of one job or `run()` call, in ms, checked. */
export interface ResolvedLockTimes {
  ttl: number;
  minHold: number;
}

/**
 * Reads `ttl` (default `defaultTtl`) and `minHold` (default 0) of a job or `run()` call. Throws
 * {@link CronLockConfigError} naming `where` (`Class.method` or `CronLockService.run("name")`)
 * for a value that is not a duration, a ttl that is not positive, a duration past what a timer
 * holds, or a minHold longer than the ttl.
 */
export function resolveLockTimes(
  where: string,
  options: { ttl?: unknown; minHold?: unknown },
  defaultTtl: number,
): ResolvedLockTimes {
  const ttl =
    options.ttl === undefined ? defaultTtl : lockDuration(where, 'ttl', options.ttl, true);
  const minHold =
    options.minHold === undefined ? 0 : lockDuration(where, 'minHold', options.minHold, false);
  if (minHold > ttl) {
    throw new CronLockConfigError(MIN_HOLD_OVER_TTL(where, minHold, ttl));
  }
  return { ttl, minHold };
}

/** The lock settings of one job or `run()` call: its durations, and whether it renews. */
export interface ResolvedLockSettings extends ResolvedLockTimes {
  renew: boolean;
}

/**
 * The one resolver of a job's lock settings, for the explorer (decorated methods) and `run()`:
 * {@link resolveLockTimes}, and `renew` (default `true`).
 */
export function resolveLockSettings(
  where: string,
  options: { ttl?: unknown; minHold?: unknown; renew?: boolean },
  defaultTtl: number,
): ResolvedLockSettings {
  const { ttl, minHold } = resolveLockTimes(where, options, defaultTtl);
  return { ttl, minHold, renew: options.renew ?? true };
}

/**
 * The ttl a `ctx.extend(ttl)` call asks for, checked as a job's ttl is at bootstrap: the job's own
 * ttl when `ttl` is undefined; a {@link CronLockConfigError} naming the job and the limit when it
 * is not a positive duration a timer can hold (a longer one would overflow the renew timer).
 */
export function resolveExtendTtl(job: string, ttl: unknown, jobTtl: number): number {
  return ttl === undefined ? jobTtl : lockDuration(`${job} ctx.extend`, 'ttl', ttl, true);
}

function lockDuration(where: string, field: string, value: unknown, positive: boolean): number {
  const ms = parseDuration(value);
  if (ms === undefined || (positive && ms <= 0)) {
    throw new CronLockConfigError(INVALID_TTL(where, field, value));
  }
  if (ms > MAX_DURATION_MS) {
    // A ttl past 2^31-1 ms would make the renew and deadline timers fire every millisecond.
    throw new CronLockConfigError(DURATION_TOO_LONG(where, field, value, ms, MAX_DURATION_MS));
  }
  return ms;
}

/** Default `catchUpWindow`: one day. */
export const DEFAULT_CATCH_UP_WINDOW_MS = 86_400_000;

/** What a job does with missed and overlapping occurrences, checked. */
export interface OccurrencePolicy {
  /** Absent: missed occurrences are reported, not run. */
  catchUp?: 'latest' | 'all';
  /** How far back catch-up looks, in ms. */
  catchUpWindow: number;
  overlap: OverlapPolicy;
}

const CATCH_UP_MODES = ['latest', 'all'] as const;
const OVERLAP_MODES = ['skip', 'queue', 'replace'] as const;

/**
 * Reads `catchUp`, `catchUpWindow` and `overlap` of a `@LockedCron` job. Throws
 * {@link CronLockConfigError} naming `where` for an unknown mode (with a did-you-mean), a wrong
 * type, a window set without `catchUp`, shorter than one period (`periodMs`; when the window is
 * shorter than that, `shortestPeriod(window)`, the schedule's shortest gap) or longer than a timer
 * holds, and either option on a job without a cron schedule (`periodMs` absent).
 */
export function resolveOccurrencePolicy(
  where: string,
  options: { catchUp?: unknown; catchUpWindow?: unknown; overlap?: unknown },
  periodMs: number | undefined,
  shortestPeriod?: (window: number) => number,
): OccurrencePolicy {
  const catchUp = mode(where, 'catchUp', options.catchUp, CATCH_UP_MODES);
  const overlap = mode(where, 'overlap', options.overlap, OVERLAP_MODES) ?? 'skip';
  if (options.catchUpWindow !== undefined && catchUp === undefined) {
    throw new CronLockConfigError(CATCH_UP_WINDOW_WITHOUT_CATCH_UP(where));
  }
  for (const [option, set] of [
    ['catchUp', catchUp !== undefined],
    ['overlap', overlap !== 'skip'],
  ] as const) {
    if (set && periodMs === undefined) {
      throw new CronLockConfigError(POLICY_NEEDS_SCHEDULE(where, option));
    }
  }
  const explicit = options.catchUpWindow !== undefined;
  const catchUpWindow = explicit
    ? lockDuration(where, 'catchUpWindow', options.catchUpWindow, true)
    : DEFAULT_CATCH_UP_WINDOW_MS;
  if (catchUp !== undefined && periodMs !== undefined && catchUpWindow < periodMs) {
    // The period after now is not the schedule's for an irregular one (a weekday job's is 3 days
    // from Thursday 09:00): only a window shorter than every gap fails, whatever the boot day.
    const shortest = shortestPeriod ? Math.min(periodMs, shortestPeriod(catchUpWindow)) : periodMs;
    if (catchUpWindow < shortest) {
      throw new CronLockConfigError(
        CATCH_UP_WINDOW_TOO_SHORT(where, catchUpWindow, shortest, explicit),
      );
    }
  }
  return { ...(catchUp === undefined ? {} : { catchUp }), catchUpWindow, overlap };
}

function mode<M extends string>(
  where: string,
  option: string,
  value: unknown,
  allowed: readonly M[],
): M | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) {
    return value as M;
  }
  const suggestion = typeof value === 'string' ? didYouMean(value, allowed) : undefined;
  throw new CronLockConfigError(INVALID_MODE(where, option, value, allowed, suggestion));
}
