import type { RedisOptions } from 'ioredis';
import { lockClientOptions, type RedisConnectionOptions } from './redis-connection.js';
import {
  REDIS_NUMBER_INVALID,
  REDIS_TIMEOUT_INVALID,
  type RedisSettingSource,
} from './redis.messages.js';
import { isCommandTimeout, isConnectTimeout } from './timeouts.js';

type NumberKey = 'db' | 'port';
type TimeoutKey = 'commandTimeout' | 'connectTimeout';

// Digits, with the blanks a value read from a file may carry (`parseInt` reads '6379\n' as 6379).
const DIGITS = /^\s*\d+\s*$/;

/** A database number: an integer from 0 (ioredis turns text into a number with `parseInt`). */
function isDatabase(value: unknown): boolean {
  return typeof value === 'string'
    ? DIGITS.test(value)
    : Number.isInteger(value) && (value as number) >= 0;
}

/** A port Node can connect to: an integer from 1 to 65535, or one written as text. */
function isPort(value: unknown): boolean {
  const port = typeof value === 'string' && DIGITS.test(value) ? Number(value) : value;
  return Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65_535;
}

const NUMBER_CHECKS: ReadonlyArray<readonly [NumberKey, (value: unknown) => boolean]> = [
  ['db', isDatabase],
  ['port', isPort],
];

const TIMEOUT_CHECKS: ReadonlyArray<readonly [TimeoutKey, (value: unknown) => boolean]> = [
  ['commandTimeout', isCommandTimeout],
  ['connectTimeout', isConnectTimeout],
];

/** ioredis reads a top-level port only for a host: beside `path` or `sentinels` it is ignored. */
function readsPort(options: RedisOptions): boolean {
  return !options.path && !options.sentinels;
}

/**
 * Why the client the module (or a store) creates from `input` could not use its database, port or
 * timeouts as meant, or `undefined`. Run after the empty-setting checks, on two views:
 * - the options as given, where ioredis would turn `db: '2x'` into database 2 with `parseInt`;
 * - the options ioredis builds the client with ({@link lockClientOptions}), which is what every
 *   shape comes to: ioredis parses the URL first, its path and query parameters included, keeps
 *   the parameters as text but `db` and `port` (`parseInt`: `?db=abc` is NaN), and fills only the
 *   gaps from the options and then the lock defaults. So `'redis://h?commandTimeout=0'` wins over
 *   any option, and only this view sees it.
 */
export function createdClientProblem(
  input: string | RedisConnectionOptions,
  source: RedisSettingSource,
): string | undefined {
  if (typeof input !== 'string') {
    for (const [key, fits] of NUMBER_CHECKS) {
      const value: unknown = input[key];
      if (key in input && !fits(value) && (key !== 'port' || readsPort(input))) {
        return REDIS_NUMBER_INVALID(source, `redis.${key}`, key, value);
      }
    }
  }
  let options: RedisOptions;
  try {
    options = lockClientOptions(input);
  } catch {
    // ioredis refused the options (Sentinels without a master name), or a connector the app
    // passed threw: creating the client throws the same error, as it always did.
    return undefined;
  }
  for (const [key, fits] of NUMBER_CHECKS) {
    const value: unknown = options[key];
    if (value !== undefined && !fits(value) && (key !== 'port' || readsPort(options))) {
      return REDIS_NUMBER_INVALID(source, origin(input, key), key, value);
    }
  }
  for (const [key, fits] of TIMEOUT_CHECKS) {
    if (!fits(options[key])) {
      const path = origin(input, key);
      return REDIS_TIMEOUT_INVALID(source, path, key, options[key], path !== `redis.${key}`);
    }
  }
  return undefined;
}

/**
 * Where a setting of the created client came from: the URL when it gives one (it wins over the
 * options), else the option.
 */
function origin(input: string | RedisConnectionOptions, key: NumberKey | TimeoutKey): string {
  const url = typeof input === 'string' ? input : input.url;
  if (url === undefined || !urlGives(url, key)) {
    return `redis.${key}`;
  }
  return typeof input === 'string' ? `redis (its ${key})` : `redis.url (its ${key})`;
}

/** Whether ioredis takes `key` from the URL: its path (`db`), its port, or a query parameter. */
function urlGives(url: string, key: string): boolean {
  try {
    const parsed = new URL(url);
    const own = key === 'db' ? parsed.pathname.length > 1 : key === 'port' && parsed.port !== '';
    return own || parsed.searchParams.has(key);
  } catch {
    return false;
  }
}
