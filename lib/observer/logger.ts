import { Logger, type LoggerService } from '@nestjs/common';
import { LOG_CONTEXT } from '../cron-lock.constants.js';
import type { SkipReason } from './events.js';
import type { StoreErrorPolicy } from '../options/module-options.interface.js';
import { formatDuration } from '../utils/duration.js';
import { redactThrownText } from '../utils/redact.js';
import { describeThrown } from '../utils/thrown.js';

/**
 * A Nest log level, as {@link CronLockLogLevels} takes it.
 *
 * @publicApi
 */
export type CronLockLogLevel = 'fatal' | 'error' | 'warn' | 'log' | 'debug' | 'verbose';

/**
 * The level of each kind of line the module writes (`logLevels` module option); `false` writes
 * none of that kind. Every kind also has an event (see `CronLockService.on`), whatever its level.
 * The other lines have a fixed level: missed occurrences at `warn`; a pause, a resume and a
 * trigger taken or refused at `log`. A key not listed here fails the bootstrap.
 *
 * @publicApi
 */
export interface CronLockLogLevels {
  /** A run ended well. Default `'debug'` (`@Cron` writes nothing for it). */
  completed?: CronLockLogLevel | false;
  /** A run threw (the only line of that error: it is not rethrown to the scheduler). Default `'error'`. */
  failed?: CronLockLogLevel | false;
  /** A tick skipped because a run of the job was still in progress. Default `'debug'`. */
  skippedHeld?: CronLockLogLevel | false;
  /**
   * A tick skipped because its occurrence already ran (normally on another instance): with N
   * instances, N−1 lines per occurrence. Default `false`.
   */
  skippedTickDone?: CronLockLogLevel | false;
  /**
   * A tick skipped because the job is paused: one line per occurrence fleet-wide (the instance
   * that claimed it). Default `'log'`.
   */
  skippedPaused?: CronLockLogLevel | false;
  /** A tick skipped because the store failed (the failure has its own line). Default `'debug'`. */
  skippedStoreError?: CronLockLogLevel | false;
  /** A tick skipped because the app is closing. Default `'debug'`. */
  skippedShuttingDown?: CronLockLogLevel | false;
  /** The lock store failed (acquire, renew, release). Default `'error'`. */
  storeError?: CronLockLogLevel | false;
  /** A run started without its lock (`onStoreError: 'run'`). Default `'warn'`. */
  runningUnlocked?: CronLockLogLevel | false;
  /** A running job lost its lock. Default `'error'`. */
  lost?: CronLockLogLevel | false;
  /** An alert (see the `alerts` option). Default `'error'`. */
  alert?: CronLockLogLevel | false;
  /** A job outlived `shutdownTimeout`. Default `'warn'`. */
  shutdownTimeout?: CronLockLogLevel | false;
  /** An event listener threw. Default `'error'`. */
  listenerFailed?: CronLockLogLevel | false;
}

/** The levels used when the `logLevels` option leaves a kind out. */
export const DEFAULT_LOG_LEVELS: Readonly<Required<CronLockLogLevels>> = {
  completed: 'debug',
  failed: 'error',
  skippedHeld: 'debug',
  skippedTickDone: false,
  skippedPaused: 'log',
  skippedStoreError: 'debug',
  skippedShuttingDown: 'debug',
  storeError: 'error',
  runningUnlocked: 'warn',
  lost: 'error',
  alert: 'error',
  shutdownTimeout: 'warn',
  listenerFailed: 'error',
};

const LOG_LEVELS: readonly CronLockLogLevel[] = [
  'fatal',
  'error',
  'warn',
  'log',
  'debug',
  'verbose',
];

const SKIP_KIND: Record<SkipReason, keyof CronLockLogLevels> = {
  held: 'skippedHeld',
  'tick-done': 'skippedTickDone',
  paused: 'skippedPaused',
  'store-error': 'skippedStoreError',
  'shutting-down': 'skippedShuttingDown',
  // Under an overlap policy: a run still holds the lock, as for `held`.
  queued: 'skippedHeld',
  merged: 'skippedHeld',
};

/**
 * Validates the `logLevels` module option; returns the level of every kind, or a problem
 * (`[option, expected, value]`) for the caller's message.
 */
export function resolveLogLevels(
  raw: unknown,
): Required<CronLockLogLevels> | [option: string, expected: string, value: unknown] {
  if (raw === undefined) {
    return { ...DEFAULT_LOG_LEVELS };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return ['logLevels', 'an object such as { completed: "log" }', raw];
  }
  const levels: Required<CronLockLogLevels> = { ...DEFAULT_LOG_LEVELS };
  for (const [kind, level] of Object.entries(raw)) {
    if (!(kind in DEFAULT_LOG_LEVELS)) {
      return [
        `logLevels.${kind}`,
        `one of ${Object.keys(DEFAULT_LOG_LEVELS).join(', ')} (unknown kind)`,
        kind,
      ];
    }
    if (level !== false && !LOG_LEVELS.includes(level as CronLockLogLevel)) {
      return [`logLevels.${kind}`, `one of ${LOG_LEVELS.join(', ')} or false`, level];
    }
    levels[kind as keyof CronLockLogLevels] = level as CronLockLogLevel | false;
  }
  return levels;
}

const SKIP_TEXT: Record<SkipReason, string> = {
  held: 'skipped: another run holds the lock',
  'tick-done': 'skipped: this occurrence already ran',
  paused: 'skipped: the job is paused',
  'store-error': 'skipped: lock store unavailable',
  'shutting-down': 'skipped: shutting down',
  queued: 'queued: runs once the running one releases the lock',
  merged: 'skipped: merged into the occurrence queued already',
};

/**
 * Nest's Logger without a context of its own: every line passes LOG_CONTEXT, and a Logger built
 * with a context appends it again, which prints a stray extra line reading "CronLock".
 */
export function defaultLogger(): LoggerService {
  return new Logger();
}

/**
 * Every line the module writes, with context `CronLock`, each kind at its level (see
 * {@link CronLockLogLevels}): by default a failed run, a lost lock and a store error at error
 * level, a completed run and most skips at debug, a skip for an occurrence that already ran
 * not at all. Callers hand it only redacted text; nothing here prints a client, an option
 * object or an owner token.
 */
export class CronLockLogger {
  /** The context each line passes; none to a logger that adds its own (see contextFor). */
  private readonly context: string | undefined;

  constructor(
    private readonly logger: LoggerService | null,
    private readonly levels: Required<CronLockLogLevels> = DEFAULT_LOG_LEVELS,
  ) {
    this.context = contextFor(logger);
  }

  completed(
    name: string,
    at: Date | null,
    durationMs: number,
    fence: number,
    instance: string,
  ): void {
    if (this.logger && this.levels.completed) {
      this.write(
        this.levels.completed,
        `${label(name, at)} completed in ${formatDuration(durationMs)} (fence ${fence}, instance ${instance})`,
      );
    }
  }

  failed(
    name: string,
    at: Date | null,
    durationMs: number,
    fence: number | null,
    error: unknown,
  ): void {
    const thrown = describeThrown(error);
    const reason = thrown.isError ? `${thrown.name}: ${thrown.message}` : thrown.message;
    // A driver's error quotes its connection string; the stack's first line repeats the message.
    this.write(
      this.levels.failed,
      `${label(name, at)} failed after ${formatDuration(durationMs)} (fence ${fence ?? 'none'}): ${redactThrownText(reason)}`,
      thrown.stack === undefined ? undefined : redactThrownText(thrown.stack),
    );
  }

  skipped(name: string, at: number | undefined, reason: SkipReason): void {
    const level = this.levels[SKIP_KIND[reason]];
    if (this.logger && level) {
      this.write(level, `${label(name, at)} ${SKIP_TEXT[reason]}`);
    }
  }

  storeError(
    name: string,
    at: Date | null,
    operation: string,
    message: string,
    policy: StoreErrorPolicy,
  ): void {
    const consequence =
      operation === 'acquire'
        ? policy === 'run'
          ? "running without a lock (onStoreError: 'run')"
          : "run skipped (onStoreError: 'skip')"
        : operation === 'renew'
          ? 'will retry before the lock expires'
          : 'the lock will expire by itself';
    this.write(
      this.levels.storeError,
      `${label(name, at)} lock store error on ${operation}: ${message}; ${consequence}`,
    );
  }

  runningUnlocked(name: string, at: Date | null): void {
    this.write(
      this.levels.runningUnlocked,
      `${label(name, at)} running WITHOUT a lock: it may run on other instances too`,
    );
  }

  lost(name: string, at: Date | null, fence: number, message: string): void {
    this.write(this.levels.lost, `${label(name, at)} (fence ${fence}): ${message}`);
  }

  /** An alert (see `CronLockAlert`): at error level by default, so log-based paging sees it. */
  alert(message: string): void {
    this.write(this.levels.alert, message);
  }

  shutdownTimeout(message: string): void {
    this.write(this.levels.shutdownTimeout, message);
  }

  listenerFailed(event: string, message: string): void {
    this.write(
      this.levels.listenerFailed,
      `A listener of the "${event}" event threw: ${redactThrownText(message)}`,
    );
  }

  /**
   * A listener of a run's `ctx.signal` threw when the module aborted it. `job` names the method
   * (`Class.method`) when there is one. At the `listenerFailed` level, with the error's stack.
   */
  signalListenerFailed(job: string, at: Date | null, error: unknown): void {
    const thrown = describeThrown(error);
    const reason = thrown.isError ? `${thrown.name}: ${thrown.message}` : thrown.message;
    this.write(
      this.levels.listenerFailed,
      `${label(job, at)}: a listener of ctx.signal threw, and is ignored ` +
        `(fix: catch errors inside the listener): ${redactThrownText(reason)}`,
      thrown.stack === undefined ? undefined : redactThrownText(thrown.stack),
    );
  }

  info(message: string): void {
    this.write('log', message);
  }

  warn(message: string): void {
    this.write('warn', message);
  }

  debug(message: string): void {
    this.write('debug', message);
  }

  /**
   * Hands one line to the app's logger. A line the logger throws on is dropped: lines are written
   * from timers and microtasks (a lost lock, missed occurrences), where its error would be an
   * uncaught exception that ends the process, and from a run's own steps, where it would replace
   * the run's outcome. So is a line an async logger rejects (a log shipper whose sink is down):
   * nobody else holds that promise, and its rejection would be unhandled, which ends the process
   * too. Nothing else reports either: the logger is the channel it would be reported to.
   */
  private write(level: CronLockLogLevel | false, message: string, stack?: string): void {
    const logger = this.logger;
    if (!logger || !level) {
      return;
    }
    const context = this.context === undefined ? [] : [this.context];
    try {
      let written: unknown;
      if (level === 'error' || (level === 'fatal' && !logger.fatal)) {
        // Nest loggers read a trailing string as the context: pass the stack only when there is one.
        written = stack
          ? logger.error(message, stack, ...context)
          : logger.error(message, ...context);
      } else {
        written = logger[level]?.(message, ...context);
      }
      // Inside the try: reading `then` may throw as well (a getter, a revoked proxy).
      dropRejection(written);
    } catch {
      // Dropped (see above).
    }
  }
}

/** When `value` is a thenable (an async logger's promise), drops its rejection (see write). */
function dropRejection(value: unknown): void {
  if ((typeof value === 'object' && value !== null) || typeof value === 'function') {
    const then: unknown = (value as { then?: unknown }).then;
    if (typeof then === 'function') {
      Reflect.apply(then, value, [undefined, () => {}]);
    }
  }
}

/**
 * `CronLock`, except for a Nest `Logger` built with a context (`new Logger('Locks')`, as the usage
 * guide shows): it appends its own context after whatever a line passes, so ours would print as
 * one more message, a second line reading "CronLock" after each. The app chose that context.
 */
function contextFor(logger: LoggerService | null): string | undefined {
  if (logger instanceof Logger) {
    const own: unknown = (logger as unknown as { context?: unknown }).context;
    if (typeof own === 'string' && own !== '') {
      return undefined;
    }
  }
  return LOG_CONTEXT;
}

/** `name @ <ISO time>`; `at` is a Date or ms since epoch (a skip never builds a Date). */
function label(name: string, at: Date | number | null | undefined): string {
  if (at === null || at === undefined) {
    return name;
  }
  return `${name} @ ${(typeof at === 'number' ? new Date(at) : at).toISOString()}`;
}
