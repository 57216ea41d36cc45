import {
  DEFAULT_POSTGRES_SCHEMA,
  DEFAULT_POSTGRES_TABLE,
  POSTGRES_IDENTIFIER_PATTERN,
} from '../stores/postgres/postgres-table.js';
import { urlNamesServer } from '../stores/redis/redis-options.js';
import { redactLooseUrl } from '../utils/redact.js';
import type { CliFlags } from './cli-args.js';
import { CliUsageError } from './cli.errors.js';

/** Where the locks are: a Redis URL, or a PostgreSQL URL with the store's schema and table. */
export type StoreTarget =
  { kind: 'redis'; url: string } | { kind: 'postgres'; url: string; schema: string; table: string };

function redisUrl(option: string | undefined, env: NodeJS.ProcessEnv): string {
  const url = option ?? env.REDIS_URL;
  const source = option === undefined ? 'REDIS_URL' : '--redis';
  if (url === undefined || url === '') {
    throw new CliUsageError(
      'No Redis to connect to: pass --redis redis://host:6379 or set REDIS_URL.',
    );
  }
  // ioredis connects a URL without a host to localhost:6379: the locks of whatever Redis runs
  // where the command was typed, read or released as if they were the fleet's.
  if (namesNoServer(url)) {
    throw new CliUsageError(
      `${source} names no Redis server (got ${JSON.stringify(redactLooseUrl(url))}): give its ` +
        'host, as in redis://host:6379.',
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

/**
 * A store setting given but empty is a mistake to report, never one to skip: a skipped empty
 * `REDIS_URL` let `DATABASE_URL` pick another store. A variable is checked only when the command
 * would read it (an empty `DATABASE_URL` beside a Redis URL is none of its business).
 */
function rejectEmptySettings(values: CliFlags, env: NodeJS.ProcessEnv): void {
  for (const [flag, value] of [
    ['--redis', values.redis],
    ['--database', values.database],
  ] as const) {
    if (isBlank(value)) {
      throw new CliUsageError(
        `${flag} is empty: give the store's URL, or leave ${flag} out to use ` +
          `${flag === '--redis' ? 'REDIS_URL' : 'DATABASE_URL'}.`,
      );
    }
  }
  if (values.redis !== undefined || values.database !== undefined) {
    return;
  }
  if (isBlank(env.REDIS_URL)) {
    throw new CliUsageError(
      'REDIS_URL is set but empty: set it to the Redis URL (redis://host:6379), or unset it ' +
        '(to use DATABASE_URL, or --redis).',
    );
  }
  if (env.REDIS_URL === undefined && values.prefix === undefined && isBlank(env.DATABASE_URL)) {
    throw new CliUsageError(
      'DATABASE_URL is set but empty: set it to the PostgreSQL URL (postgres://host/db), or ' +
        'unset it and pass --redis or --database.',
    );
  }
}

function isBlank(value: string | undefined): boolean {
  return value !== undefined && value.trim() === '';
}

/**
 * A redis:// URL with no host (`redis://`, `redis:///0`, `redis://:password@/0`). The user info
 * is cut at its last `@`, as ioredis cuts it, so a password the URL parser refuses still counts.
 */
function namesNoServer(url: string): boolean {
  const withoutUserInfo = url.replace(/^(rediss?:\/\/)[^/?#]*@/i, '$1');
  if (!/^rediss?:\/\//i.test(withoutUserInfo) || !URL.canParse(withoutUserInfo)) {
    return false;
  }
  return !urlNamesServer(withoutUserInfo);
}

export function whereJobsLive(store: StoreTarget, prefix: string): string {
  return store.kind === 'postgres' ? `${store.schema}.${store.table}` : prefix;
}

/**
 * Redis unless PostgreSQL is asked for: `--database`, or `DATABASE_URL` when neither `--redis`
 * nor `REDIS_URL` (nor a Redis `--prefix`) is there: an app whose locks are in Redis often has a
 * DATABASE_URL too.
 */
export function storeTarget(values: CliFlags, env: NodeJS.ProcessEnv): StoreTarget {
  rejectEmptySettings(values, env);
  const postgres =
    values.database !== undefined ||
    (values.redis === undefined &&
      values.prefix === undefined &&
      !env.REDIS_URL &&
      Boolean(env.DATABASE_URL));
  if (!postgres) {
    if (values.schema !== undefined || values.table !== undefined) {
      throw new CliUsageError('--schema and --table only apply to PostgreSQL (--database).');
    }
    return { kind: 'redis', url: redisUrl(values.redis, env) };
  }
  if (values.redis !== undefined) {
    throw new CliUsageError('Pass either --redis or --database, not both.');
  }
  if (values.prefix !== undefined) {
    throw new CliUsageError(
      '--prefix only applies to Redis: use --schema and --table for PostgreSQL.',
    );
  }
  const source = values.database === undefined ? 'DATABASE_URL' : '--database';
  const url = values.database ?? env.DATABASE_URL ?? '';
  if (url === '' || !/^postgres(ql)?:\/\/./.test(url)) {
    throw new CliUsageError(
      `${source} must be a postgres:// or postgresql:// URL, got ${JSON.stringify(redactLooseUrl(url))}.`,
    );
  }
  const schema = values.schema ?? DEFAULT_POSTGRES_SCHEMA;
  const table = values.table ?? DEFAULT_POSTGRES_TABLE;
  for (const [option, name] of [
    ['--schema', schema],
    ['--table', table],
  ] as const) {
    if (!POSTGRES_IDENTIFIER_PATTERN.test(name)) {
      throw new CliUsageError(
        `${option} ${JSON.stringify(name)} is not a name the store accepts ` +
          '(1 to 40 characters among a-z 0-9 _, not starting with a digit).',
      );
    }
  }
  return { kind: 'postgres', url, schema, table };
}
