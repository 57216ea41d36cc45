import type { LoggerService } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { CronLockConfigError } from '../../cron-lock.errors.js';
import { INVALID_MODULE_OPTION } from '../../cron-lock.messages.js';
import { redactLooseUrl } from '../../utils/redact.js';
import { isRedisClient, type RedisConnectionOptions } from './redis-connection.js';
import { RedisLockStore } from './redis-lock.store.js';
import { tlsSettingsProblem } from './tls.js';
import { REDIS_NO_SERVER, REDIS_OPTION_EMPTY, REDIS_URL_WITHOUT_HOST } from './redis.messages.js';

/**
 * Checks the `redis` module option without connecting: a redis:// or rediss:// URL, ioredis
 * options whose `url` and TLS settings fit, or a client. Throws {@link CronLockConfigError}.
 */
export function checkRedisSetting(redis: unknown): void {
  if (typeof redis === 'string') {
    if (!/^rediss?:\/\//i.test(redis)) {
      throw new CronLockConfigError(
        INVALID_MODULE_OPTION(
          'redis',
          'a redis:// or rediss:// URL, ioredis options or a client',
          redactLooseUrl(redis),
        ),
      );
    }
    if (!urlNamesServer(redis)) {
      throw new CronLockConfigError(REDIS_URL_WITHOUT_HOST('redis', redactLooseUrl(redis)));
    }
  } else if (typeof redis !== 'object' || redis === null || Array.isArray(redis)) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION(
        'redis',
        'a redis:// or rediss:// URL, ioredis options or a client',
        redis,
      ),
    );
  } else if (!isRedisClient(redis)) {
    checkConnectionOptions(redis as RedisConnectionOptions);
  }
}

/** Builds the store of the `redis` module option (checked first, as at validation). */
export function createRedisStore(
  redis: string | RedisConnectionOptions | Redis | Cluster,
  keyPrefix: string,
  logger: LoggerService | null,
): RedisLockStore {
  checkRedisSetting(redis);
  // An existing client is reused as is: RedisLockStore never closes a client it did not create.
  return new RedisLockStore(redis, { keyPrefix, logger: logger ?? false });
}

/**
 * `{ url, tls, ...ioredis options }`: a URL that ioredis accepts, naming a server, or a host, a
 * socket path or Sentinels; and TLS settings that fit. ioredis itself takes options that name no
 * server as localhost:6379, which on a fleet whose variable is unset is no shared lock at all.
 */
function checkConnectionOptions(options: RedisConnectionOptions): void {
  for (const key of ['url', 'host', 'path'] as const) {
    const value: unknown = options[key];
    if (key in options && (value === undefined || value === null || isBlank(value))) {
      throw new CronLockConfigError(REDIS_OPTION_EMPTY(`redis.${key}`, value));
    }
  }
  const { url } = options;
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\/./i.test(url))) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION(
        'redis.url',
        'a redis:// or rediss:// URL',
        typeof url === 'string' ? redactLooseUrl(url) : url,
      ),
    );
  }
  if (url !== undefined && !urlNamesServer(url)) {
    throw new CronLockConfigError(REDIS_URL_WITHOUT_HOST('redis.url', redactLooseUrl(url)));
  }
  if ('sentinels' in options && !(Array.isArray(options.sentinels) && options.sentinels.length)) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION(
        'redis.sentinels',
        'a non-empty array of { host, port }',
        options.sentinels,
      ),
    );
  }
  if (url === undefined && !('host' in options || 'path' in options || 'sentinels' in options)) {
    throw new CronLockConfigError(REDIS_NO_SERVER());
  }
  const problem = tlsSettingsProblem(options);
  if (problem !== undefined) {
    throw new CronLockConfigError(problem);
  }
}

/**
 * Whether a redis:// URL names a server as ioredis reads it: a host, or a `host` or `path`
 * (socket) query parameter. `redis://` and `redis:///0` name none: ioredis takes localhost.
 */
function urlNamesServer(url: string): boolean {
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

function isBlank(value: unknown): boolean {
  return typeof value === 'string' && value.trim() === '';
}
