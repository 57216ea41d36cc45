import { REDIS_SETTING_EMPTY, type RedisSettingSource } from './redis.messages.js';

/**
 * The connection settings an app reads from its environment, each with what ioredis does when it
 * is left out. Present but empty (`db: process.env.LOCK_DB` with the variable unset), ioredis
 * reads it as left out: another port or database than the one meant, or no credentials, so apps
 * or environments meant to be apart would share their locks, or the lock client would reach a
 * server nobody meant it to.
 */
const CONNECTION_DEFAULTS: Readonly<Record<string, string>> = {
  port: 'connect to port 6379',
  db: 'use database 0',
  username: "authenticate as the server's default user",
  password: 'connect without a password',
  sentinelUsername: 'authenticate to the Sentinels as their default user',
  sentinelPassword: 'connect to the Sentinels without a password',
  name: 'have no master name to ask the Sentinels for',
};

/** The same for each entry of `sentinels`. */
const SENTINEL_DEFAULTS: Readonly<Record<string, string>> = {
  host: 'ask a Sentinel on localhost',
  port: 'ask a Sentinel on port 26379',
};

/**
 * Why the ioredis options a client is created from cannot be used as given: a connection
 * setting, or a Sentinel's host or port, present but `undefined`, `null` or a blank string.
 * `undefined` when none is. The message names the setting, never its value.
 */
export function emptySettingProblem(
  options: object,
  source: RedisSettingSource,
): string | undefined {
  const problem = emptyKeyProblem(options, CONNECTION_DEFAULTS, 'redis.', source);
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
      const found = emptyKeyProblem(sentinel as object, SENTINEL_DEFAULTS, path, source);
      if (found !== undefined) {
        return found;
      }
    }
  }
  return undefined;
}

function emptyKeyProblem(
  options: object,
  defaults: Readonly<Record<string, string>>,
  prefix: string,
  source: RedisSettingSource,
): string | undefined {
  for (const key of Object.keys(defaults)) {
    const value: unknown = (options as Record<string, unknown>)[key];
    if (key in options && isEmpty(value)) {
      return REDIS_SETTING_EMPTY(source, prefix + key, value, defaults[key]);
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
