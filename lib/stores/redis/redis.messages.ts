/* Messages of the `redis` module option that name no server, beside the check that says them. */
import { describeValue } from '../../utils/describe-value.js';

const SERVER_FIX =
  "e.g. redis: 'redis://redis.internal:6379', { host, port }, { path } (a socket) or " +
  '{ sentinels, name }, or, for one process only, store: new MemoryLockStore()';

/** `option` is `redis.url`, `redis.host` or `redis.path`, present but empty. */
export const REDIS_OPTION_EMPTY = (option: string, value: unknown): string =>
  `CronLockModule: option ${option} is ${describeValue(value)}, as an unset or empty environment ` +
  `variable gives (e.g. { url: process.env.REDIS_URL } without REDIS_URL), and ioredis would ` +
  `connect to localhost:6379 in its place. Fix: set it (${SERVER_FIX}).`;

/** `option` is `redis` or `redis.url`; `shown` the value, redacted. */
export const REDIS_URL_WITHOUT_HOST = (option: string, shown: string): string =>
  `CronLockModule: option ${option} ${JSON.stringify(shown)} names no server (no host, nor a host ` +
  `or path parameter), and ioredis would connect to localhost:6379. ` +
  `Fix: put the server in the URL (${SERVER_FIX}).`;

export const REDIS_NO_SERVER = (): string =>
  `CronLockModule: option redis names no server: none of url, host, path or sentinels is set, ` +
  `and ioredis would connect to localhost:6379. Fix: name the server (${SERVER_FIX}).`;
