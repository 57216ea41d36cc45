import { parseArgs } from 'node:util';
import {
  DEFAULT_KEY_PREFIX,
  KEY_PREFIX_PATTERN,
  LOCK_NAME_PATTERN,
} from '../cron-lock.constants.js';
import { secretsOf } from '../stores/redis/redis-connection.js';
import { redactLooseUrl } from '../utils/redact.js';
import { CliUsageError } from './cli.errors.js';

export const USAGE = `Usage:
  nestjs-cron-lock status [--redis <url>] [--prefix <prefix>] [--json]
  nestjs-cron-lock release <job> [--redis <url>] [--prefix <prefix>] [--yes]

Commands:
  status          Show every job under the prefix: held or free, holder, ttl left, last
                  occurrence, last success, fencing token, consecutive failures.
  release <job>   Force-free a stuck lock. Deletes only the lock key: the occurrence marker
                  stays, so the occurrence that was running is not run again. Asks first.

Options:
  --redis <url>      redis:// or rediss:// URL (default: the REDIS_URL environment variable).
                     A password in --redis is visible to other users of the machine in the
                     process list (ps): prefer REDIS_URL for a URL with a password.
  --prefix <prefix>  The module's keyPrefix (default: ${DEFAULT_KEY_PREFIX})
  --json             status: print JSON instead of a table
  --yes, -y          release: do not ask for confirmation (required without a terminal)
  --help, -h         Show this help
  --version          Show the package version

Exit codes: 0 done, 1 error (e.g. Redis unreachable), 2 wrong usage or confirmation missing.`;

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'status'; redis: string; prefix: string; json: boolean; warnings: string[] }
  | {
      kind: 'release';
      redis: string;
      prefix: string;
      job: string;
      yes: boolean;
      warnings: string[];
    };

/**
 * Reads the command line (`argv` without `node` and the script) into a command, or throws a
 * {@link CliUsageError} that says what to type instead. Options may come before or after the
 * command; `--redis` falls back to `REDIS_URL`.
 */
export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    // parseArgs names the option, never its value, so its message is safe to print.
    throw new CliUsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  // The passwords of the URL in use, however given: hidden in every value echoed below, since a
  // mistyped command line may carry one anywhere (a URL as the command, a password as --prefix).
  const secrets = [...secretsOf(values.redis ?? ''), ...secretsOf(env.REDIS_URL ?? '')];
  const shown = (value: string): string => echoValue(value, secrets);
  const warnings =
    values.redis !== undefined && secretsOf(values.redis).length > 0
      ? [PASSWORD_IN_FLAG_WARNING]
      : [];
  if (values.help) {
    return { kind: 'help' };
  }
  if (values.version) {
    return { kind: 'version' };
  }
  const [command, ...rest] = positionals;
  if (command === undefined) {
    throw new CliUsageError('Missing command: status or release.');
  }
  if (command !== 'status' && command !== 'release') {
    throw new CliUsageError(`Unknown command ${shown(command)}: use status or release.`);
  }

  const prefix = values.prefix ?? DEFAULT_KEY_PREFIX;
  if (!KEY_PREFIX_PATTERN.test(prefix)) {
    throw new CliUsageError(
      `--prefix ${shown(prefix)} is not a key prefix the module accepts ` +
        '(1 to 64 characters among A-Z a-z 0-9 . _ : -).',
    );
  }

  if (command === 'status') {
    if (rest.length > 0) {
      throw new CliUsageError(`status takes no argument (got ${shown(rest[0])}).`);
    }
    if (values.yes) {
      throw new CliUsageError('--yes only applies to release.');
    }
    return {
      kind: 'status',
      redis: redisUrl(values.redis, env),
      prefix,
      json: values.json ?? false,
      warnings,
    };
  }

  if (rest.length !== 1) {
    throw new CliUsageError(
      rest.length === 0
        ? 'release needs the job: nestjs-cron-lock release <job>.'
        : 'release takes one job at a time.',
    );
  }
  const job = rest[0];
  if (!LOCK_NAME_PATTERN.test(job)) {
    throw new CliUsageError(
      `${shown(job)} is not a lock name (1 to 128 characters among A-Z a-z 0-9 . _ : -).`,
    );
  }
  if (values.json) {
    throw new CliUsageError('--json only applies to status.');
  }
  return {
    kind: 'release',
    redis: redisUrl(values.redis, env),
    prefix,
    job,
    yes: values.yes ?? false,
    warnings,
  };
}

const PASSWORD_IN_FLAG_WARNING =
  'warning: --redis carries a password, which other users of this machine can read in the ' +
  'process list (ps). Prefer the REDIS_URL environment variable.';

/** Longest part of a command-line value echoed in a message. */
const ECHO_MAX = 40;

/**
 * A value from the command line, safe to print in a usage error: no URL user info, no password
 * of the URL in use, no control characters (which could rewrite the terminal), at most 40
 * characters, quoted.
 */
export function echoValue(value: string, secrets: readonly string[] = []): string {
  let safe = redactLooseUrl(value);
  for (const secret of secrets) {
    if (secret.length > 0) {
      safe = safe.split(secret).join('***');
    }
  }
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  safe = safe.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return JSON.stringify(safe.length > ECHO_MAX ? `${safe.slice(0, ECHO_MAX)}…` : safe);
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      redis: { type: 'string' },
      prefix: { type: 'string' },
      json: { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  });
}

function redisUrl(option: string | undefined, env: NodeJS.ProcessEnv): string {
  const url = option ?? env.REDIS_URL;
  const source = option === undefined ? 'REDIS_URL' : '--redis';
  if (url === undefined || url === '') {
    throw new CliUsageError(
      'No Redis to connect to: pass --redis redis://host:6379 or set REDIS_URL.',
    );
  }
  let protocol: string | undefined;
  try {
    protocol = new URL(url).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new CliUsageError(
      `${source} must be a redis:// or rediss:// URL, got ${JSON.stringify(redactLooseUrl(url))}.`,
    );
  }
  return url;
}
