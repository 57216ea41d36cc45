import { REDIS_SETTING_EMPTY, type RedisSettingSource } from './redis.messages.js';

/** A setting of the ioredis options, when ioredis reads it, and what it does when it is empty. */
interface EmptySetting {
  /** Whether ioredis reads it beside the other options (a top-level port beside a path it does not). */
  readonly reads: (options: object) => boolean;
  /** What ioredis does with `value` (`undefined`, `null` or blank) in its place. */
  readonly fallback: (value: unknown) => string;
}

const always = (): boolean => true;
const withSentinels = (options: object): boolean => 'sentinels' in options;

/**
 * The connection settings an app reads from its environment. Present but empty
 * (`db: process.env.LOCK_DB` with the variable unset), ioredis reads it as left out or as no value:
 * another database than the one meant, no credentials, or a port it cannot connect to, so apps or
 * environments meant to be apart would share their locks, or the lock client would reach a server
 * nobody meant it to, or none. The Sentinel ones are read only with `sentinels`, a top-level port
 * only without `path` and `sentinels`: elsewhere ioredis ignores them, and so does this check.
 */
const CONNECTION_SETTINGS: Readonly<Record<string, EmptySetting>> = {
  port: {
    reads: (options) => !('path' in options || 'sentinels' in options),
    // ioredis puts its 6379 only in place of `undefined`; Node refuses null or a blank port.
    fallback: (value) =>
      value === undefined
        ? 'connect to port 6379'
        : "fail every connection attempt with Node's own error",
  },
  db: { reads: always, fallback: () => 'use database 0' },
  username: { reads: always, fallback: () => "authenticate as the server's default user" },
  password: { reads: always, fallback: () => 'connect without a password' },
  sentinelUsername: {
    reads: withSentinels,
    fallback: () => 'authenticate to the Sentinels as their default user',
  },
  sentinelPassword: {
    reads: withSentinels,
    fallback: () => 'connect to the Sentinels without a password',
  },
  name: { reads: withSentinels, fallback: () => 'have no master name to ask the Sentinels for' },
};

/** The same for each entry of `sentinels`. */
const SENTINEL_SETTINGS: Readonly<Record<string, EmptySetting>> = {
  host: { reads: always, fallback: () => 'ask a Sentinel on localhost' },
  port: { reads: always, fallback: () => 'ask a Sentinel on port 26379' },
};

/**
 * Why the ioredis options a client is created from cannot be used as given: a connection
 * setting ioredis reads there, or a Sentinel's host or port, present but `undefined`, `null` or
 * a blank string. `undefined` when none is. The message names the setting, never its value; with
 * a `url`, it says the URL's value would be used where the URL gives one (ioredis parses the URL
 * first and fills only its gaps from the options), and ioredis' own fallback otherwise.
 */
export function emptySettingProblem(
  options: object,
  source: RedisSettingSource,
): string | undefined {
  const withUrl = 'url' in options;
  const problem = emptyKeyProblem(options, CONNECTION_SETTINGS, 'redis.', source, withUrl);
  if (problem !== undefined) {
    return problem;
  }
  const { sentinels } = options as { sentinels?: unknown };
  if (!Array.isArray(sentinels)) {
    return undefined;
  }
  for (const [index, sentinel] of sentinels.entries()) {
    if (typeof sentinel === 'object' && sentinel !== null) {
      const path = `redis.sentinels[${index}].`;
      const found = emptyKeyProblem(sentinel as object, SENTINEL_SETTINGS, path, source, false);
      if (found !== undefined) {
        return found;
      }
    }
  }
  return undefined;
}

function emptyKeyProblem(
  options: object,
  settings: Readonly<Record<string, EmptySetting>>,
  prefix: string,
  source: RedisSettingSource,
  withUrl: boolean,
): string | undefined {
  for (const [key, setting] of Object.entries(settings)) {
    const value: unknown = (options as Record<string, unknown>)[key];
    if (key in options && isEmpty(value) && setting.reads(options)) {
      const fallback = setting.fallback(value);
      return REDIS_SETTING_EMPTY(
        source,
        prefix + key,
        value,
        withUrl
          ? `take it from the URL where the URL gives one, and otherwise ${fallback}`
          : fallback,
      );
    }
  }
  return undefined;
}

/** `undefined`, `null` or a blank string: what an unset or empty variable gives. */
function isEmpty(value: unknown): boolean {
  return (
    value === undefined || value === null || (typeof value === 'string' && value.trim() === '')
  );
}
