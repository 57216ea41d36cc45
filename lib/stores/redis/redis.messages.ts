/* Messages of a Redis connection setting that is wrong or names no server, beside its check. */
import { describeValue } from '../../utils/describe-value.js';
import { MAX_DURATION_MS } from '../../utils/duration.js';
import { LOCK_CLIENT_DEFAULTS } from './redis-connection.js';

/**
 * Who reads a connection setting: the module's `redis` option, or the first argument of a
 * `RedisLockStore` built by hand. Each message names it, so the fix is looked for in the right
 * place.
 */
export type RedisSettingSource = 'CronLockModule' | 'RedisLockStore';

/** `CronLockModule: option redis.url` · `RedisLockStore: argument redis.url`. */
function settingName(source: RedisSettingSource, path: string): string {
  return source === 'CronLockModule'
    ? `CronLockModule: option ${path}`
    : `RedisLockStore: argument ${path}`;
}

const SERVER_FIX: Record<RedisSettingSource, string> = {
  CronLockModule:
    "e.g. redis: 'redis://redis.internal:6379', { host, port }, { path } (a socket) or " +
    '{ sentinels, name }, or, for one process only, store: new MemoryLockStore()',
  RedisLockStore:
    "e.g. new RedisLockStore('redis://redis.internal:6379'), { host, port }, { path } (a " +
    'socket), { sentinels, name } or an ioredis client, or, for one process only, ' +
    'new MemoryLockStore()',
};

const UNSET_EXAMPLE: Record<RedisSettingSource, string> = {
  CronLockModule: '{ url: process.env.REDIS_URL } without REDIS_URL',
  RedisLockStore: 'new RedisLockStore(process.env.REDIS_URL) without REDIS_URL',
};

/** A setting of the wrong kind (`path`: `redis`, `redis.url`, `redis.tls.ca`…). */
export const REDIS_SETTING_INVALID = (
  source: RedisSettingSource,
  path: string,
  expected: string,
  value: unknown,
): string =>
  `${settingName(source, path)} must be ${expected}, got ${describeValue(value)}. ` +
  `Fix: correct or remove it.`;

/** `path` is `redis` (a store's argument), `redis.url`, `redis.host` or `redis.path`, present but empty. */
export const REDIS_OPTION_EMPTY = (
  source: RedisSettingSource,
  path: string,
  value: unknown,
): string =>
  `${settingName(source, path)} is ${describeValue(value)}, as an unset or empty environment ` +
  `variable gives (e.g. ${UNSET_EXAMPLE[source]}), and ioredis would ` +
  `connect to localhost:6379 in its place. Fix: set it (${SERVER_FIX[source]}).`;

/** How a message names an empty value: never its text, which may be a password of spaces. */
function emptyKind(value: unknown): string {
  if (typeof value !== 'string') {
    return String(value);
  }
  return value === '' ? 'an empty string' : 'a blank string';
}

/**
 * A connection setting (`path`: `redis.db`, `redis.sentinels[0].host`…) present but empty, which
 * ioredis would read as left out: `fallback` says what it would do instead.
 */
export const REDIS_SETTING_EMPTY = (
  source: RedisSettingSource,
  path: string,
  value: unknown,
  fallback: string,
): string =>
  `${settingName(source, path)} is ${emptyKind(value)}, as an unset or empty environment ` +
  `variable gives, and ioredis would ${fallback}. Fix: set it, or remove it if that ` +
  'is what you want.';

/** `path` is `redis` or `redis.url`; `shown` the value, redacted. */
export const REDIS_URL_WITHOUT_HOST = (
  source: RedisSettingSource,
  path: string,
  shown: string,
): string =>
  `${settingName(source, path)} ${JSON.stringify(shown)} names no server (no host, nor a host ` +
  `or path parameter), and ioredis would connect to localhost:6379. ` +
  `Fix: put the server in the URL (${SERVER_FIX[source]}).`;

export const REDIS_NO_SERVER = (source: RedisSettingSource): string =>
  `${settingName(source, 'redis')} names no server: none of url, host, path or sentinels is set, ` +
  `and ioredis would connect to localhost:6379. Fix: name the server (${SERVER_FIX[source]}).`;

export const TLS_WITHOUT_REDISS = (source: RedisSettingSource): string =>
  `${settingName(source, 'redis.tls')} is set but redis.url is a plain redis:// URL, so ioredis ` +
  `would speak TLS to a plain port. Fix: use the rediss:// URL of the TLS port, or remove tls.`;

/** A setting the lock client's defaults fill in (`key`), present but undefined. */
export const REDIS_DEFAULTED_OPTION_EMPTY = (source: RedisSettingSource, key: string): string =>
  `${settingName(source, `redis.${key}`)} is undefined, as an unset environment variable gives, ` +
  "and would put ioredis' own default in place of the lock client's (LOCK_CLIENT_DEFAULTS: no " +
  'offline queue, no retries or resends, a command timeout; connected on first use). ' +
  'Fix: set it, or leave it out for the lock default.';

/** The range each timeout must be in, and why. */
const TIMEOUT_RANGES = {
  commandTimeout: {
    range: `above 0 and at most ${MAX_DURATION_MS} (about 24.8 days)`,
    why:
      'the lock client times out each command with it and the store bounds its own waits by it; ' +
      'ioredis arms no timeout for null or text, so a command whose reply is lost would wait as ' +
      'long as its connection stays open, and a longer timer or NaN fires after 1 ms and 0 times ' +
      'out every command at once, so every run would be skipped',
  },
  connectTimeout: {
    range:
      `from 0 to ${MAX_DURATION_MS} (about 24.8 days), or null (0 and null are no connect ` +
      'timeout, as ioredis reads them)',
    why:
      'ioredis arms it on each connection attempt unless it is 0, null or another falsy value: ' +
      'a longer one fires after 1 ms, a negative one or text makes Node throw there, and NaN or ' +
      'an empty string (an unset variable) would silently mean none',
  },
};

/**
 * A `commandTimeout` or `connectTimeout` of the client to be created that no timer can keep;
 * `path` names where it came from (`redis.commandTimeout`, `redis.url (its commandTimeout)`).
 */
export const REDIS_TIMEOUT_INVALID = (
  source: RedisSettingSource,
  path: string,
  key: 'commandTimeout' | 'connectTimeout',
  value: unknown,
  fromUrl: boolean,
): string =>
  `${settingName(source, path)} must be a number of milliseconds ` +
  `${TIMEOUT_RANGES[key].range}, got ${describeValue(value)}: ${TIMEOUT_RANGES[key].why}` +
  (fromUrl
    ? `; ioredis keeps a URL's parameters as text. Fix: take it out of the URL and set it as an ` +
      `option ({ url, ${key}: ${LOCK_CLIENT_DEFAULTS[key]} }), or leave it out for the lock default.`
    : '. Fix: set it in that range (a value read from the environment needs Number()), or leave ' +
      `it out for the lock default (LOCK_CLIENT_DEFAULTS: ${LOCK_CLIENT_DEFAULTS[key]}).`);

/** A client passed in whose `commandTimeout` (`where`) no timer can keep. */
export const REDIS_CLIENT_TIMEOUT_INVALID = (
  source: RedisSettingSource,
  where: string,
  value: unknown,
): string =>
  `${settingName(source, 'redis')} is an ioredis client whose ${where} is ` +
  `${describeValue(value)}, not a number of milliseconds ${TIMEOUT_RANGES.commandTimeout.range}: ` +
  `${TIMEOUT_RANGES.commandTimeout.why}. Fix: create the client with a ${where} in that ` +
  `range (LOCK_CLIENT_DEFAULTS has ${LOCK_CLIENT_DEFAULTS.commandTimeout}).`;

/** What each number setting must be, why, and what leaving it out gives. */
const NUMBER_SETTINGS = {
  db: {
    expected: 'a database number (an integer from 0, or one written as a string)',
    why:
      'ioredis would use another database than meant (for NaN it sends no SELECT: database 0; ' +
      'for text it takes the digits it starts with) or the server would refuse it',
    absent: 'database 0',
  },
  port: {
    expected: 'a port number (an integer from 1 to 65535, or one written as a string)',
    why:
      'ioredis would connect to another port than meant (for text it takes the digits it ' +
      "starts with) or fail every connection attempt with Node's own error",
    absent: 'port 6379',
  },
};

/**
 * A `db` or `port` the client to be created could not use as meant; `path` names where it came
 * from (`redis.db`, `redis (its db)` for a URL's).
 */
export const REDIS_NUMBER_INVALID = (
  source: RedisSettingSource,
  path: string,
  key: 'db' | 'port',
  value: unknown,
): string =>
  `${settingName(source, path)} must be ${NUMBER_SETTINGS[key].expected}, got ` +
  `${describeValue(value)}: ${NUMBER_SETTINGS[key].why}. Fix: set it to the one meant (a ` +
  `value read from the environment needs a default when unset), or leave it out for ` +
  `${NUMBER_SETTINGS[key].absent}.`;

const KEY_PREFIX_EXAMPLE: Record<RedisSettingSource, string> = {
  CronLockModule: "CronLockModule.forRoot({ redis: cluster, keyPrefix: 'billing-staging' })",
  RedisLockStore: "new RedisLockStore(cluster, { keyPrefix: 'billing-staging' })",
};

/**
 * A Cluster client whose startup node or `redisOptions.db` (`where`) names a database other than
 * 0, which ioredis would replace with database 0 without a word.
 */
export const REDIS_CLUSTER_DATABASE = (
  source: RedisSettingSource,
  where: string,
  db: unknown,
): string =>
  `${settingName(source, 'redis')} is a Cluster client whose ${where} names database ` +
  `${typeof db === 'string' && /^\d+$/.test(db) ? db : describeValue(db)}, but a Redis Cluster ` +
  'has only database 0, and ioredis would use database 0 without a word: apps or environments ' +
  'told apart by their database would share their locks. Fix: remove the database from the ' +
  "Cluster's startup nodes and redisOptions, and give each app or environment its own " +
  `keyPrefix (${KEY_PREFIX_EXAMPLE[source]}); see docs/deploying.md, 'Cluster'.`;

// The store-error hints below, with ioredis' own text after them, stay within the 300 characters
// a store error line keeps, so the fix is never cut off.
const SUBSCRIBER_FIX =
  'give the locks a client of their own, e.g. new Redis(url, LOCK_CLIENT_DEFAULTS)';

/** A client in RESP2 subscriber mode, refused where it is handed over. */
export const REDIS_CLIENT_SUBSCRIBED = (source: RedisSettingSource): string =>
  `${settingName(source, 'redis')} is an ioredis client in subscriber mode (the app called ` +
  'subscribe() or psubscribe() on it), where ioredis refuses every command but ' +
  '(un)subscriptions and PING, so every run would be skipped. ' +
  `Fix: ${SUBSCRIBER_FIX}, and keep the app's subscriptions on its own client.`;

/** The same, for a client the app subscribed with after handing it over: leads each store error. */
export const SUBSCRIBED_CLIENT_HINT =
  'Redis client passed in is in subscriber mode (the app subscribed with it): ioredis refuses ' +
  `lock commands on it. Fix: ${SUBSCRIBER_FIX}`;

const CLOSED_FIX =
  'close a client you pass in only after app.close() (and store.close()), or pass an open one';

/**
 * A client in status `end` (its `quit()` or `disconnect()` called, or its `retryStrategy` gave
 * up), refused where it is handed over.
 */
export const REDIS_CLIENT_CLOSED = (source: RedisSettingSource): string =>
  `${settingName(source, 'redis')} is an ioredis client that is already closed (status "end": ` +
  'quit() or disconnect() was called on it, or its retryStrategy gave up), and ioredis never ' +
  `reconnects it by itself, so every run would be skipped. Fix: ${CLOSED_FIX}.`;

/** The same, for a client the app closed after handing it over: leads each store error. */
export const CLOSED_CLIENT_HINT =
  'Redis client passed in is closed (quit(), disconnect(), or a retryStrategy that gave up), ' +
  `and ioredis never reopens it: nothing is locked or released. Fix: ${CLOSED_FIX}`;

/**
 * `RedisLockStore.listJobs()` on a Cluster whose client reaches no master for some slots (`ranges`
 * like `10923-16383`, per node address): the SCAN of the masters still up would pass off part of
 * the jobs as all of them.
 */
export const CLUSTER_SLOTS_UNREACHED = (
  unreached: ReadonlyArray<[node: string, ranges: string]>,
): string =>
  `RedisLockStore.listJobs: the Redis Cluster client reaches no master for ` +
  unreached.map(([node, ranges]) => `slots ${ranges} (served by ${node})`).join(', ') +
  `, so the jobs stored there cannot be listed and a list without them would look complete. ` +
  `Fix: try again once that master is back or a replica has taken over its slots.`;

/** A write at startup answered `READONLY`: the connection reaches a replica. */
export const REDIS_READ_ONLY_REPLICA =
  'Redis refused a write (READONLY): the server is a read-only replica. Fix: point redis at the ' +
  'master (or at Sentinel with the master name), not at a replica';

/** A write at startup answered `NOREPLICAS`: the master's `min-replicas-to-write` is not met. */
export const REDIS_NO_REPLICAS =
  'Redis refused a write (NOREPLICAS): fewer replicas in sync than min-replicas-to-write. Fix: ' +
  'bring the replicas back, or lower min-replicas-to-write on the master';

/**
 * `RedisLockStore.ping()` on a Cluster whose client reaches no master for some slots: the locks
 * whose keys hash there fail, whatever the masters still up answer.
 */
export const CLUSTER_PING_UNREACHED = (
  unreached: ReadonlyArray<[node: string, ranges: string]>,
): string =>
  `RedisLockStore.ping: the Redis Cluster client reaches no master for ` +
  unreached.map(([node, ranges]) => `slots ${ranges} (served by ${node})`).join(', ') +
  `, so every lock whose key hashes there fails. ` +
  `Fix: bring that master back, or let a replica take over its slots.`;
