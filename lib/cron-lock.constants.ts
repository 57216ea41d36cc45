// Registered symbols (Symbol.for): the ES module and CommonJS builds, when one process loads
// both, must name the same providers.

/** Injection token of the validated module options. */
export const CRON_LOCK_OPTIONS = Symbol.for('nestjs-cron-lock.CRON_LOCK_OPTIONS');
/** Injection token of the options as the user gave them (before validation). */
export const CRON_LOCK_RAW_OPTIONS = Symbol.for('nestjs-cron-lock.CRON_LOCK_RAW_OPTIONS');
/**
 * Injection token of the options given to `CronLockModule.forRoot` / `forRootAsync`, before
 * validation. A test overrides it to run an app's own module on another store without calling
 * the app's options factory:
 * `.overrideProvider(CRON_LOCK_MODULE_OPTIONS).useValue({ store: new MemoryLockStore() })`
 * (or `overrideCronLockModule()` from `nestjs-cron-lock/testing`).
 *
 * @publicApi
 */
export const CRON_LOCK_MODULE_OPTIONS: symbol = CRON_LOCK_RAW_OPTIONS;
/**
 * Provided (as `true`) by the testing module: jobs there run when the test runs them, so an app
 * without `ScheduleModule` is not a misconfiguration. A token rather than a stand-in
 * `SchedulerRegistry`, which `moduleRef.get(SchedulerRegistry)` would find instead of the real one.
 */
export const CRON_LOCK_SCHEDULER_OPTIONAL = Symbol.for(
  'nestjs-cron-lock.CRON_LOCK_SCHEDULER_OPTIONAL',
);
/**
 * Injection token of the {@link LockStore} in use: `app.get(CRON_LOCK_STORE)`.
 *
 * @publicApi
 */
export const CRON_LOCK_STORE = Symbol.for('nestjs-cron-lock.CRON_LOCK_STORE');
/** Injection token of the store with what the module knows of it (built by it, its kind). */
export const CRON_LOCK_RESOLVED_STORE = Symbol.for('nestjs-cron-lock.CRON_LOCK_RESOLVED_STORE');

/** Metadata key under which `@CronLock` / `@LockedCron` keep their lock options on the method. */
export const CRON_LOCK_METADATA = 'nestjs-cron-lock:options';

/** Nest Logger context of every line the module writes. */
export const LOG_CONTEXT = 'CronLock';

export const DEFAULT_KEY_PREFIX = 'cron-lock';
export const DEFAULT_TTL_MS = 30_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/** Allowed lock names: safe in Redis keys, hash tags, `SCAN MATCH` patterns and log lines. */
export const LOCK_NAME_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** Allowed key prefixes. */
export const KEY_PREFIX_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * How long the per-job state (last occurrence, last fencing token, last outcome) lives after an
 * acquisition that sets its expiry; the acquire refreshes it once less than half is left, so the
 * state outlives the last acquisition by 15 to 30 days. It only has to outlive the clock skew
 * between instances; a longer life keeps `inspect()` informative. The fencing token survives its
 * loss (it never goes below the server clock).
 */
export const STATE_TTL_MS = 30 * 86_400_000;

/**
 * How far ahead of the lock store's clock an occurrence (`scheduledAt`) may lie. A tick further
 * ahead can only come from a clock that is wrong by more than this, or from a value in the wrong
 * unit (µs or s for ms): claimed, it would mark every occurrence up to it as done (`tick-done`)
 * fleet-wide, so the store refuses it. Generous on purpose: NTP keeps clocks within
 * milliseconds, and once-per-occurrence already needs skew under half the period.
 */
export const MAX_SCHEDULED_AT_AHEAD_MS = 15 * 60_000;

/** Default of the `historySize` module option: entries of a job's history kept in the store. */
export const DEFAULT_HISTORY_SIZE = 100;

/** Largest `historySize`: the store keeps every entry of every job, and a read returns them all. */
export const MAX_HISTORY_SIZE = 1000;

/** Longest note a pause keeps (`CronLockService.pause({ reason })`). */
export const MAX_PAUSE_REASON_LENGTH = 500;

/**
 * A character that drives how text is shown rather than being shown: C0 and C1 controls (NEL
 * breaks a line in some log viewers, CSI starts a terminal escape), the Unicode line and paragraph
 * separators, and the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069),
 * which reorder what follows them: a browser shows `by \u202Eexe.nimda-lla-eteled\u202C ok` as
 * `by -all-admin.exe delete ok`. The one set that the CLI and the dashboard remove from stored
 * text they print (an older version took any instance id, and a custom store may keep any), and
 * that {@link PAUSE_NOTE_FORBIDDEN} refuses.
 */
// eslint-disable-next-line no-control-regex -- matching them is the point
export const DISPLAY_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** {@link DISPLAY_CONTROL}, every match: for `replace()` only (`test()` would keep its place). */
export const DISPLAY_CONTROLS = new RegExp(DISPLAY_CONTROL.source, 'g');

/**
 * What a pause note may not carry, for every caller (`CronLockService.pause()`, the stores, the
 * CLI's `--reason`, the dashboard's pause), nor the `instanceId` option: both are printed in log
 * lines, by the CLI and on the dashboard, where a {@link DISPLAY_CONTROL} would split, forge or
 * reorder a line or drive a terminal. NUL is also refused by PostgreSQL.
 */
export const PAUSE_NOTE_FORBIDDEN = DISPLAY_CONTROL;
