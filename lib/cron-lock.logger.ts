import { Logger, type LoggerService } from '@nestjs/common';
import { LOG_CONTEXT } from './cron-lock.constants.js';
import type { SkipReason } from './cron-lock.events.js';
import type { StoreErrorPolicy } from './interfaces/cron-lock-module-options.interface.js';
import { formatDuration } from './utils/duration.js';

const SKIP_TEXT: Record<SkipReason, string> = {
  held: 'skipped: another run holds the lock',
  'tick-done': 'skipped: this occurrence already ran',
  'store-error': 'skipped: lock store unavailable',
  'shutting-down': 'skipped: shutting down',
};

/**
 * Nest's Logger without a context of its own: every line passes LOG_CONTEXT, and a Logger built
 * with a context appends it again, which prints a stray extra line reading "CronLock".
 */
export function defaultLogger(): LoggerService {
  return new Logger();
}

/**
 * Every line the module writes, with context `CronLock`: one line per run (job, occurrence,
 * duration, fencing token, outcome), skips at debug level, losses and store errors at error
 * level. Callers hand it only redacted text; nothing here prints a client, an option object or
 * an owner token.
 */
export class CronLockLogger {
  constructor(private readonly logger: LoggerService | null) {}

  completed(
    name: string,
    at: Date | null,
    durationMs: number,
    fence: number,
    instance: string,
  ): void {
    this.logger?.log(
      `${label(name, at)} completed in ${formatDuration(durationMs)} (fence ${fence}, instance ${instance})`,
      LOG_CONTEXT,
    );
  }

  failed(
    name: string,
    at: Date | null,
    durationMs: number,
    fence: number | null,
    error: unknown,
  ): void {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const stack = error instanceof Error ? error.stack : undefined;
    this.error(
      `${label(name, at)} failed after ${formatDuration(durationMs)} (fence ${fence ?? 'none'}): ${reason}`,
      stack,
    );
  }

  skipped(name: string, at: number | undefined, reason: SkipReason): void {
    this.logger?.debug?.(`${label(name, at)} ${SKIP_TEXT[reason]}`, LOG_CONTEXT);
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
    this.error(`${label(name, at)} lock store error on ${operation}: ${message}; ${consequence}`);
  }

  runningUnlocked(name: string, at: Date | null): void {
    this.logger?.warn(
      `${label(name, at)} running WITHOUT a lock: it may run on other instances too`,
      LOG_CONTEXT,
    );
  }

  lost(name: string, at: Date | null, fence: number, message: string): void {
    this.error(`${label(name, at)} (fence ${fence}): ${message}`);
  }

  /** An alert (see `CronLockAlert`): always at error level, so log-based paging sees it. */
  alert(message: string): void {
    this.error(message);
  }

  shutdownTimeout(message: string): void {
    this.logger?.warn(message, LOG_CONTEXT);
  }

  listenerFailed(event: string, message: string): void {
    this.error(`A listener of the "${event}" event threw: ${message}`);
  }

  info(message: string): void {
    this.logger?.log(message, LOG_CONTEXT);
  }

  warn(message: string): void {
    this.logger?.warn(message, LOG_CONTEXT);
  }

  debug(message: string): void {
    this.logger?.debug?.(message, LOG_CONTEXT);
  }

  private error(message: string, stack?: string): void {
    // Nest loggers read a trailing string as the context: pass the stack only when there is one.
    if (stack) {
      this.logger?.error(message, stack, LOG_CONTEXT);
    } else {
      this.logger?.error(message, LOG_CONTEXT);
    }
  }
}

/** `name @ <ISO time>`; `at` is a Date or ms since epoch (a skip never builds a Date). */
function label(name: string, at: Date | number | null | undefined): string {
  if (at === null || at === undefined) {
    return name;
  }
  return `${name} @ ${(typeof at === 'number' ? new Date(at) : at).toISOString()}`;
}
