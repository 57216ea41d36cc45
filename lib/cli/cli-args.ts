import { parseArgs } from 'node:util';
import {
  DEFAULT_KEY_PREFIX,
  DISPLAY_CONTROLS,
  KEY_PREFIX_PATTERN,
  LOCK_NAME_PATTERN,
} from '../cron-lock.constants.js';
import { KEY_PREFIX_RULE } from '../cron-lock.messages.js';
import { secretsOf } from '../stores/redis/redis-connection.js';
import {
  DEFAULT_POSTGRES_SCHEMA,
  DEFAULT_POSTGRES_TABLE,
} from '../stores/postgres/postgres-table.js';
import { didYouMean } from '../utils/did-you-mean.js';
import { redactLooseUrl } from '../utils/redact.js';
import { describeThrown } from '../utils/thrown.js';
import { CliUsageError } from './cli.errors.js';
import { storeTarget, whereJobsLive, type StoreTarget } from './store-target.js';
import {
  checkFlags,
  COMMAND_LIST,
  COMMANDS,
  DEFAULT_HISTORY_LIMIT,
  parseLimit,
  parseReason,
  parseUntil,
  type CommandName,
} from './fleet-args.js';

export const USAGE = `Usage:
  nestjs-cron-lock status [--json]
  nestjs-cron-lock release <job> [--yes]
  nestjs-cron-lock pause <job> [--reason <text>] [--until <when>] [--yes]
  nestjs-cron-lock resume <job> [--yes]
  nestjs-cron-lock trigger <job> [--force] [--wait] [--json] [--yes]
  nestjs-cron-lock history <job> [--limit <n>] [--json]
  … each with [--redis <url>] [--prefix <prefix>], or --database <url> [--schema <schema>] [--table <table>]

Commands:
  status          Show every job under the prefix: held or free, holder, ttl left, last
                  occurrence, last success, fencing token, consecutive failures.
  release <job>   Force-free a stuck lock. Deletes only the lock key: the occurrence marker
                  stays, so the occurrence that was running is not run again. Asks first.
  pause <job>     Stop the job fleet-wide from its next occurrence (a run in progress goes on).
  resume <job>    Undo pause.
  trigger <job>   Run the job now on one live instance that has it, through its lock.
  history <job>   The job's last runs and skipped or missed occurrences, newest first.

Options:
  --redis <url>      redis:// or rediss:// URL (default: the REDIS_URL environment variable);
                     a Redis Cluster node's URL works too. A password in --redis is visible to
                     other users of the machine in the process list (ps): prefer REDIS_URL.
  --prefix <prefix>  The module's keyPrefix (default: ${DEFAULT_KEY_PREFIX}), after the app's
                     client's own ioredis keyPrefix if it has one (app:cron-lock for 'app:')
  --database <url>   postgres:// URL of a PostgresLockStore's database (default: the
                     DATABASE_URL environment variable, when neither --redis nor REDIS_URL is set).
                     A password in it shows in the process list too: prefer DATABASE_URL.
  --schema <schema>  PostgreSQL: the store's schema option (default: ${DEFAULT_POSTGRES_SCHEMA})
  --table <table>    PostgreSQL: the store's table option (default: ${DEFAULT_POSTGRES_TABLE})
  --json             status, trigger, history: print JSON
  --yes, -y          release, pause, resume, trigger: do not ask for confirmation (required
                     without a terminal)
  --reason <text>    pause: a note shown by status (at most 200 characters)
  --until <when>     pause: resume by itself after a duration (30m, 2h, 1d) or at an ISO
                     date-time with its zone (2030-01-01T12:00:00Z)
  --force            trigger: run it even while paused
  --wait             trigger: wait for the run to end and exit 1 if it failed
  --limit <n>        history: how many entries (default: ${DEFAULT_HISTORY_LIMIT})
  --help, -h         Show this help
  --version          Show the package version

Exit codes: 0 done, 1 error (e.g. Redis unreachable, a triggered run that did not start or
failed), 2 wrong usage or confirmation missing.`;

export type { StoreTarget } from './store-target.js';

/**
 * A parsed command. `prefix` names where the jobs live in messages: the key prefix for Redis,
 * `schema.table` for PostgreSQL.
 */
export type CliCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | ({ kind: 'status'; json: boolean } & StoreCommand)
  | ({ kind: 'release' | 'resume'; job: string; yes: boolean } & StoreCommand)
  | ({
      kind: 'pause';
      job: string;
      yes: boolean;
      reason: string | undefined;
      /** ms since epoch */
      until: number | undefined;
    } & StoreCommand)
  | ({
      kind: 'trigger';
      job: string;
      yes: boolean;
      force: boolean;
      wait: boolean;
      json: boolean;
    } & StoreCommand)
  | ({ kind: 'history'; job: string; limit: number; json: boolean } & StoreCommand);

/** What every command that talks to a store carries. */
export interface StoreCommand {
  store: StoreTarget;
  prefix: string;
  warnings: string[];
}

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
    throw new CliUsageError(unknownOption(error) ?? describeThrown(error).message);
  }
  const { values, positionals, tokens } = parsed;
  rejectRepeatedValues(tokens);
  // The passwords of the URL in use, however given: hidden in every value echoed below, since a
  // mistyped command line may carry one anywhere (a URL as the command, a password as --prefix).
  const secrets = [values.redis, env.REDIS_URL, values.database, env.DATABASE_URL].flatMap((url) =>
    secretsOf(url ?? ''),
  );
  const shown = (value: string): string => echoValue(value, secrets);
  const warnings = (
    [
      ['--redis', values.redis, 'REDIS_URL'],
      ['--database', values.database, 'DATABASE_URL'],
    ] as const
  )
    .filter(([, url]) => url !== undefined && secretsOf(url).length > 0)
    .map(([flag, , variable]) => PASSWORD_IN_FLAG_WARNING(flag, variable));
  if (values.help) {
    return { kind: 'help' };
  }
  if (values.version) {
    return { kind: 'version' };
  }
  const [command, ...rest] = positionals;
  if (command === undefined) {
    throw new CliUsageError(`Missing command: ${COMMAND_LIST}.`);
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CliUsageError(`Unknown command ${shown(command)}: use ${COMMAND_LIST}.`);
  }
  const verb = command as CommandName;

  const prefix = values.prefix ?? DEFAULT_KEY_PREFIX;
  if (!KEY_PREFIX_PATTERN.test(prefix)) {
    throw new CliUsageError(
      `--prefix ${shown(prefix)} is not a key prefix the module accepts (${KEY_PREFIX_RULE}).`,
    );
  }
  checkFlags(verb, values);

  if (verb === 'status') {
    if (rest.length > 0) {
      throw new CliUsageError(`status takes no argument (got ${shown(rest[0])}).`);
    }
    const store = storeTarget(values, env);
    const where = { store, prefix: whereJobsLive(store, prefix), warnings };
    return { kind: 'status', ...where, json: values.json ?? false };
  }

  if (rest.length !== 1) {
    throw new CliUsageError(
      rest.length === 0
        ? `${verb} needs the job: nestjs-cron-lock ${verb} <job>.`
        : `${verb} takes one job at a time.`,
    );
  }
  const job = rest[0];
  if (!LOCK_NAME_PATTERN.test(job)) {
    throw new CliUsageError(
      `${shown(job)} is not a lock name (1 to 128 characters among A-Z a-z 0-9 . _ : -).`,
    );
  }
  const reason = parseReason(values.reason);
  const until = parseUntil(values.until, Date.now());
  const limit = parseLimit(values.limit);
  const store = storeTarget(values, env);
  const where = { store, prefix: whereJobsLive(store, prefix), warnings, job };
  const yes = values.yes ?? false;
  const json = values.json ?? false;
  switch (verb) {
    case 'release':
    case 'resume':
      return { kind: verb, ...where, yes };
    case 'pause':
      return { kind: 'pause', ...where, yes, reason, until };
    case 'trigger':
      return {
        kind: 'trigger',
        ...where,
        yes,
        json,
        force: values.force ?? false,
        wait: values.wait ?? false,
      };
    case 'history':
      return { kind: 'history', ...where, limit, json };
  }
}

const PASSWORD_IN_FLAG_WARNING = (flag: string, variable: string): string =>
  `warning: ${flag} carries a password, which other users of this machine can read in the ` +
  `process list (ps). Prefer the ${variable} environment variable.`;

/** Longest part of a command-line value echoed in a message. */
const ECHO_MAX = 40;

/**
 * A value from the command line, safe to print in a usage error: no URL user info, no password
 * of the URL in use, no control character (which could rewrite the terminal) or bidi override
 * (which would reorder the line), at most 40 characters, quoted.
 */
export function echoValue(value: string, secrets: readonly string[] = []): string {
  let safe = redactLooseUrl(value);
  for (const secret of secrets) {
    if (secret.length > 0) {
      safe = safe.split(secret).join('***');
    }
  }
  safe = safe.replace(DISPLAY_CONTROLS, '?');
  return JSON.stringify(safe.length > ECHO_MAX ? `${safe.slice(0, ECHO_MAX)}…` : safe);
}

/**
 * A flag that takes a value, given twice, is a usage error: `parseArgs` keeps the last one, and
 * a repeat (a shell alias plus a typed flag) most likely points at another store or prefix than
 * meant. A repeated switch (`--yes -y`) means the same as one and passes.
 */
function rejectRepeatedValues(tokens: ReturnType<typeof parse>['tokens']): void {
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.value === undefined) {
      continue;
    }
    if (seen.has(token.name)) {
      throw new CliUsageError(`--${token.name} is given twice: pass it once.`, false);
    }
    seen.add(token.name);
  }
}

/** The parsed flags, as `parseArgs` gives them. */
export type CliFlags = ReturnType<typeof parse>['values'];

const OPTIONS = {
  redis: { type: 'string' },
  prefix: { type: 'string' },
  database: { type: 'string' },
  schema: { type: 'string' },
  table: { type: 'string' },
  json: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  reason: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  force: { type: 'boolean' },
  wait: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    tokens: true,
    options: OPTIONS,
  });
}

/**
 * parseArgs' message for an unknown option, in this tool's words: the option meant when one is
 * close, else the list. Its own text ends with advice on positional arguments after `--`, which
 * fits no command here (a job name never starts with `-`), and quotes them unbalanced.
 */
function unknownOption(error: unknown): string | undefined {
  if ((error as { code?: unknown } | null)?.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    return undefined;
  }
  const option = /^Unknown option '(-[^']*)'/.exec(describeThrown(error).message)?.[1];
  if (option === undefined) {
    return undefined;
  }
  const names = Object.keys(OPTIONS);
  const meant = didYouMean(option.replace(/^-+/, ''), names);
  return meant !== undefined
    ? `Unknown option '${option}': did you mean --${meant}?`
    : `Unknown option '${option}'. Options: ${names.map((name) => `--${name}`).join(', ')}.`;
}
