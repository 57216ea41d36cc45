import { PAUSE_NOTE_FORBIDDEN } from '../cron-lock.constants.js';
import { MAX_DURATION_MS, parseDuration } from '../utils/duration.js';
import { CliUsageError } from './cli.errors.js';

/** Every command of `nestjs-cron-lock`, in the order the usage lists them. */
export const COMMANDS = ['status', 'release', 'pause', 'resume', 'trigger', 'history'] as const;

export type CommandName = (typeof COMMANDS)[number];

/** `status, release, pause, resume, trigger or history`. */
export const COMMAND_LIST = `${COMMANDS.slice(0, -1).join(', ')} or ${COMMANDS[COMMANDS.length - 1]}`;

/**
 * The commands each flag applies to: a flag given to another command is a usage error rather
 * than silently ignored (`release --force` must not look like it forced something).
 */
const FLAG_COMMANDS: Record<string, readonly CommandName[]> = {
  json: ['status', 'trigger', 'history'],
  yes: ['release', 'pause', 'resume', 'trigger'],
  reason: ['pause'],
  until: ['pause'],
  limit: ['history'],
  force: ['trigger'],
  wait: ['trigger'],
};

/** Throws a {@link CliUsageError} for a flag that does not apply to `command`. */
export function checkFlags(command: CommandName, values: Record<string, unknown>): void {
  for (const [flag, commands] of Object.entries(FLAG_COMMANDS)) {
    if (values[flag] !== undefined && !commands.includes(command)) {
      throw new CliUsageError(`--${flag} only applies to ${listOf(commands)}.`);
    }
  }
}

function listOf(commands: readonly string[]): string {
  return commands.length === 1
    ? commands[0]
    : `${commands.slice(0, -1).join(', ')} and ${commands[commands.length - 1]}`;
}

/** Longest `--reason` kept: a note for the operators who read `status`, not a log. */
const MAX_REASON_LENGTH = 200;

/**
 * The `--reason` of `pause`: printed by `status` on other operators' terminals, so it may not
 * carry what the library refuses in any pause note (control characters could rewrite the
 * terminal, line separators split the line).
 */
export function parseReason(value: string | undefined): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (value.trim() === '' || PAUSE_NOTE_FORBIDDEN.test(value)) {
    throw new CliUsageError(
      '--reason must be a non-empty one-line text (no control character, line separator or bidi override), e.g. --reason "vendor outage".',
    );
  }
  if (value.length > MAX_REASON_LENGTH) {
    throw new CliUsageError(
      `--reason is ${value.length} characters: keep it to ${MAX_REASON_LENGTH}.`,
    );
  }
  return value;
}

/**
 * The `--until` of `pause`, in ms since epoch: a duration from now (`30m`, `2h`, `1d`) or an ISO
 * date-time with its zone (`2030-01-01T12:00:00Z`), in the future and at most 2^31-1 ms (about
 * 24.8 days) ahead, as every duration of the module.
 */
export function parseUntil(value: string | undefined, now: number): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const duration = parseDuration(value);
  let until: number;
  if (duration !== undefined) {
    until = now + duration;
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    until = Date.parse(value);
  } else {
    until = Number.NaN;
  }
  if (Number.isNaN(until)) {
    throw new CliUsageError(
      '--until must be a duration from now (30m, 2h, 1d) or an ISO date-time with its zone ' +
        '(2030-01-01T12:00:00Z).',
    );
  }
  if (until <= now) {
    throw new CliUsageError('--until is not in the future: the pause would end at once.');
  }
  if (until - now > MAX_DURATION_MS) {
    throw new CliUsageError(
      `--until is more than ${MAX_DURATION_MS}ms (about 24.8 days) ahead. Pause without --until ` +
        'and resume by hand for longer.',
    );
  }
  return until;
}

/** `history --limit`: the default, and the most one command prints. */
export const DEFAULT_HISTORY_LIMIT = 20;
const MAX_HISTORY_LIMIT = 10_000;

export function parseLimit(value: string | undefined): number {
  if (value === undefined) {
    return DEFAULT_HISTORY_LIMIT;
  }
  const limit = /^\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_HISTORY_LIMIT)) {
    throw new CliUsageError(`--limit must be a whole number from 1 to ${MAX_HISTORY_LIMIT}.`);
  }
  return limit;
}
