import { CronLockConfigError } from '../../cron-lock.errors.js';
import { INVALID_OPTION } from '../../cron-lock.messages.js';
import { redactLooseUrl } from '../../utils/redact.js';
import { rejectEmptyOptions } from '../../utils/empty-options.js';
import { checkLoggerOption, checkOptionKeys } from '../../utils/option-keys.js';
import { isClosedClient, isSubscribedClient } from './client-state.js';
import { clusterDatabaseProblem } from './cluster-database.js';
import { createdClientProblem } from './created-client.js';
import { emptySettingProblem } from './empty-settings.js';
import {
  isClusterClient,
  isRedisClient,
  LOCK_CLIENT_DEFAULTS,
  type RedisConnectionOptions,
} from './redis-connection.js';
import { clientTimeoutProblem } from './timeouts.js';
import { tlsSettingsProblem } from './tls.js';
import {
  REDIS_CLIENT_CLOSED,
  REDIS_DEFAULTED_OPTION_EMPTY,
  REDIS_CLIENT_SUBSCRIBED,
  REDIS_NO_SERVER,
  REDIS_OPTION_EMPTY,
  REDIS_SETTING_INVALID,
  REDIS_URL_WITHOUT_HOST,
  type RedisSettingSource,
} from './redis.messages.js';

/**
 * Checks a connection setting without connecting: a redis:// or rediss:// URL, ioredis options
 * whose `url` and TLS settings fit, a client to be created whose database, port and timeouts
 * (the URL's included) ioredis can use, or a client that can carry lock commands (not one
 * already closed, nor one the app subscribed with over RESP2, nor a Cluster naming a database
 * but 0, nor one whose `commandTimeout` no timer can keep).
 * `source` is the module's `redis` option or a store's argument (the messages name it). Throws
 * {@link CronLockConfigError}.
 */
export function checkRedisSetting(
  redis: unknown,
  source: RedisSettingSource = 'CronLockModule',
): void {
  if (source === 'RedisLockStore' && isEmpty(redis)) {
    // The module refuses an empty `redis` before this check, with its own message.
    throw new CronLockConfigError(REDIS_OPTION_EMPTY(source, 'redis', redis));
  }
  if (typeof redis === 'string') {
    if (!/^rediss?:\/\//i.test(redis)) {
      throw new CronLockConfigError(
        REDIS_SETTING_INVALID(
          source,
          'redis',
          'a redis:// or rediss:// URL, ioredis options or a client',
          redactLooseUrl(redis),
        ),
      );
    }
    if (!urlNamesServer(redis)) {
      throw new CronLockConfigError(REDIS_URL_WITHOUT_HOST(source, 'redis', redactLooseUrl(redis)));
    }
    const problem = createdClientProblem(redis, source);
    if (problem !== undefined) {
      throw new CronLockConfigError(problem);
    }
  } else if (typeof redis !== 'object' || redis === null || Array.isArray(redis)) {
    throw new CronLockConfigError(
      REDIS_SETTING_INVALID(
        source,
        'redis',
        'a redis:// or rediss:// URL, ioredis options or a client',
        redis,
      ),
    );
  } else if (!isRedisClient(redis)) {
    checkConnectionOptions(redis as RedisConnectionOptions, source);
  } else if (isClosedClient(redis)) {
    throw new CronLockConfigError(REDIS_CLIENT_CLOSED(source));
  } else if (isSubscribedClient(redis)) {
    throw new CronLockConfigError(REDIS_CLIENT_SUBSCRIBED(source));
  } else {
    const problem =
      (isClusterClient(redis) ? clusterDatabaseProblem(redis, source) : undefined) ??
      clientTimeoutProblem(redis, source);
    if (problem !== undefined) {
      throw new CronLockConfigError(problem);
    }
  }
}

/**
 * The settings a created client takes from the lock defaults (and `lazyConnect`, see
 * `createLockClient`). Present but `undefined`, spread over those defaults, they would hand the
 * setting back to ioredis' own default: no command timeout, an offline queue, 20 retries.
 */
const DEFAULTED_OPTIONS = [
  ...(Object.keys(LOCK_CLIENT_DEFAULTS) as Array<keyof RedisConnectionOptions>),
  'lazyConnect',
] as const;

/**
 * `{ url, tls, ...ioredis options }`: a URL that ioredis accepts, naming a server, or a host, a
 * socket path or Sentinels; no lock default present but undefined; no connection setting (port,
 * database, credentials, the Sentinels' own) present but empty; a database, port and timeouts
 * the created client can use; and TLS settings that fit.
 * ioredis itself takes options that name no server as localhost:6379, which on a fleet whose
 * variable is unset is no shared lock at all.
 */
function checkConnectionOptions(options: RedisConnectionOptions, source: RedisSettingSource): void {
  for (const key of ['url', 'host', 'path'] as const) {
    const value: unknown = options[key];
    if (key in options && (value === undefined || value === null || isBlank(value))) {
      throw new CronLockConfigError(REDIS_OPTION_EMPTY(source, `redis.${key}`, value));
    }
  }
  for (const key of DEFAULTED_OPTIONS) {
    if (key in options && options[key] === undefined) {
      throw new CronLockConfigError(REDIS_DEFAULTED_OPTION_EMPTY(source, key));
    }
  }
  const { url } = options;
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\/./i.test(url))) {
    throw new CronLockConfigError(
      REDIS_SETTING_INVALID(
        source,
        'redis.url',
        'a redis:// or rediss:// URL',
        typeof url === 'string' ? redactLooseUrl(url) : url,
      ),
    );
  }
  if (url !== undefined && !urlNamesServer(url)) {
    throw new CronLockConfigError(REDIS_URL_WITHOUT_HOST(source, 'redis.url', redactLooseUrl(url)));
  }
  if ('sentinels' in options && !(Array.isArray(options.sentinels) && options.sentinels.length)) {
    throw new CronLockConfigError(
      REDIS_SETTING_INVALID(
        source,
        'redis.sentinels',
        'a non-empty array of { host, port }',
        options.sentinels,
      ),
    );
  }
  if (url === undefined && !('host' in options || 'path' in options || 'sentinels' in options)) {
    throw new CronLockConfigError(REDIS_NO_SERVER(source));
  }
  const problem =
    emptySettingProblem(options, source) ??
    createdClientProblem(options, source) ??
    tlsSettingsProblem(options, source);
  if (problem !== undefined) {
    throw new CronLockConfigError(problem);
  }
}

/**
 * Whether a redis:// URL names a server as ioredis reads it: a host, or a `host` or `path`
 * (socket) query parameter. `redis://` and `redis:///0` name none: ioredis takes localhost.
 */
export function urlNamesServer(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const { hostname, searchParams } = parsed;
  return (
    !isBlank(hostname) ||
    !isBlank(searchParams.get('host') ?? '') ||
    !isBlank(searchParams.get('path') ?? '')
  );
}

/** `undefined`, `null` or a blank string: what an unset or empty variable gives. */
function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || isBlank(value);
}

function isBlank(value: unknown): boolean {
  return typeof value === 'string' && value.trim() === '';
}

/** What leaving each option out gives (`keyPrefix` has its own check). */
const STORE_OPTION_DEFAULTS = { logger: "Nest's Logger", scriptTransport: "the default 'batched'" };

/**
 * The options of a `RedisLockStore` built by hand, but its `keyPrefix` (checked where it is
 * read): an object of known keys, none present but empty, a logger that logs, a transport.
 */
export function checkStoreOptions(options: unknown): void {
  checkOptionKeys(
    'RedisLockStore',
    options,
    ['keyPrefix', 'logger', 'scriptTransport'],
    "{ keyPrefix: 'my-app' }",
  );
  rejectEmptyOptions('RedisLockStore', options as object, STORE_OPTION_DEFAULTS);
  const { logger, scriptTransport } = options as { logger?: unknown; scriptTransport?: unknown };
  checkLoggerOption('RedisLockStore', logger);
  checkScriptTransport(scriptTransport);
}

/** `RedisLockStore`'s `scriptTransport`: absent, `'batched'` or `'plain'`. */
function checkScriptTransport(transport: unknown): void {
  if (transport !== undefined && transport !== 'batched' && transport !== 'plain') {
    throw new CronLockConfigError(
      INVALID_OPTION('RedisLockStore', 'scriptTransport', "'batched' or 'plain'", transport),
    );
  }
}
