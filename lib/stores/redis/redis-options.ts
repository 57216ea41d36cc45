import type { LoggerService } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { CronLockConfigError } from '../../cron-lock.errors.js';
import { INVALID_MODULE_OPTION } from '../../cron-lock.messages.js';
import { redactLooseUrl } from '../../utils/redact.js';
import { isRedisClient, type RedisConnectionOptions } from './redis-connection.js';
import { RedisLockStore } from './redis-lock.store.js';
import { tlsSettingsProblem } from './tls.js';

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

/** `{ url, tls, ...ioredis options }`: a URL that ioredis accepts, and TLS settings that fit it. */
function checkConnectionOptions(options: RedisConnectionOptions): void {
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
  const problem = tlsSettingsProblem(options);
  if (problem !== undefined) {
    throw new CronLockConfigError(problem);
  }
}
