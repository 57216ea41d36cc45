/* Every message a user can read, in one place (as @nestjs/schedule's schedule.messages.ts). */
import { describeKey, describeValue, oneOf } from './utils/describe-value.js';
import { redactUrl } from './utils/redact.js';

export const NAME_RULE = '1 to 128 characters among A-Z a-z 0-9 . _ : -';
/** A rejected lock name is shown whole up to here, so one just over the 128 allowed is. */
const NAME_ECHO_MAX = 200;

/** `reason` is the parser's, which may quote the expression: it is redacted as the value is. */
export const INVALID_CRON = (job: string, cronTime: unknown, reason: string): string =>
  `${job}: invalid cron expression ${describeValue(cronTime)} (${redactUrl(reason)}). ` +
  `Fix: use 5 or 6 fields such as '0 * * * *' or a CronExpression value.`;

export const INVALID_TTL = (job: string, field: string, value: unknown): string =>
  `${job}: ${field} ${describeValue(value)} is not a positive duration. ` +
  `Fix: pass milliseconds (> 0) or a string such as '500ms', '30s', '5m', '1h', '1d'.`;

/** `where` is `Class.method`, `CronLockService.run("name")` or `CronLockModule`. */
export const DURATION_TOO_LONG = (
  where: string,
  field: string,
  value: unknown,
  ms: number,
  max: number,
): string =>
  `${where}: ${field} ${describeValue(value)} is ${ms}ms, longer than a Node.js timer holds ` +
  `(${max}ms, about 24.8 days): its timer would fire at once, again and again. ` +
  `Fix: use at most ${max}ms (e.g. '24d'); a lock is renewed while its job runs, so its ttl ` +
  `need not cover the whole run.`;

export const MIN_HOLD_OVER_TTL = (job: string, minHold: number, ttl: number): string =>
  `${job}: minHold (${minHold}ms) is longer than ttl (${ttl}ms), so the lock would expire before it. ` +
  `Fix: lower minHold or raise ttl.`;

/** How a message names a call of the service: `CronLockService.inspect("name")`, never throwing. */
export const SERVICE_CALL = (method: string, name: unknown): string =>
  `CronLockService.${method}(${describeValue(name, NAME_ECHO_MAX)})`;

/** `spaces`: the name is a job's `name` option, where a space stands for '_' in the lock name. */
export const INVALID_LOCK_NAME = (job: string, name: unknown, spaces = false): string =>
  `${job}: lock name ${describeValue(name, NAME_ECHO_MAX)} is not allowed. ` +
  (spaces
    ? `Fix: use ${NAME_RULE} or spaces (the lock name has '_' for each space); no braces, glob characters, other whitespace or non-ASCII letters.`
    : `Fix: use ${NAME_RULE} (no braces, spaces or glob characters).`);

/** Worded as @nestjs/schedule's own DUPLICATE_SCHEDULER, which a @Cron user knows. */
export const DUPLICATE_LOCK_NAME = (name: string, first: string, second: string): string =>
  `${second}: Cron Job with the given name (${name}) already exists: lock name "${name}" is ` +
  `already used by ${first}, so the two jobs would block each other. ` +
  `Fix: give one of them a distinct { name } option.`;

/** Two classes of one name (e.g. a TasksService in two feature modules) with unnamed jobs. */
export const CLASS_NAME_CLASH = (job: string, className: string): string =>
  `${job}: two different classes are named ${className}, so both of their jobs would get the ` +
  `default lock name "${job}" and block each other. ` +
  `Fix: give one of them a { name } option, e.g. @LockedCron(expression, { name: 'billing.${job.slice(className.length + 1)}' }).`;

export const INVALID_ONE_SHOT = (job: string, cronTime: unknown): string =>
  `${job}: the one-shot date ${describeValue(cronTime)} is not a valid date. ` +
  `Fix: pass a valid Date (or a cron expression string).`;

export const EXCLUSIVE_ZONE = (job: string): string =>
  `${job}: timeZone and utcOffset are exclusive. Fix: set only one of them.`;

export const INVALID_TIME_ZONE = (job: string, timeZone: unknown): string =>
  `${job}: timeZone ${describeValue(timeZone)} is not a known IANA time zone. ` +
  `Fix: use a zone name such as 'Europe/Paris' or 'UTC', or utcOffset in minutes.`;

export const INVALID_OPTION = (
  job: string,
  option: string,
  expected: string,
  value: unknown,
): string =>
  `${job}: option ${option} must be ${expected}, got ${describeValue(value)}. Fix: correct or remove it.`;

/**
 * A key given with nothing in it, as `config.get('X')` of an unset variable gives. `where` is
 * `CronLockModule`, `Class.method`, `CronLockService.run("name")` or a store's constructor;
 * `otherwise` says what leaving the key out gives (its default).
 */
export const OPTION_EMPTY = (
  where: string,
  option: string,
  value: unknown,
  otherwise: string,
): string =>
  `${where}: option ${option} is present but ${describeValue(value)}, as an unset environment ` +
  `variable gives (e.g. config.get('X') without X); it does not fall back to ${otherwise}. ` +
  `Fix: set it, or leave the key out for ${otherwise}.`;

/** `suggestion` is the known key a misspelt one most likely meant. */
export const UNKNOWN_OPTION = (
  where: string,
  key: string,
  suggestion: string | undefined,
  known: readonly string[],
): string =>
  `${where}: unknown option ${describeKey(key)}` +
  (suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`) +
  `. Fix: ${suggestion === undefined ? 'remove it' : `rename it to ${suggestion}`}; ` +
  `the options are ${known.join(', ')}.`;

export const INVALID_OPTIONS_OBJECT = (where: string, value: unknown, optional: boolean): string =>
  `${where}: options must be an object such as { ttl: '30s' }, got ${describeValue(value)}. ` +
  `Fix: pass an object${optional ? ', or undefined for the defaults' : ''}.`;

export const MODULE_MISSING = (job: string): string =>
  `${job} is decorated with @LockedCron/@CronLock but CronLockModule is not imported in this app. ` +
  `Fix: add CronLockModule.forRoot({ redis: ... }) or CronLockModule.forRootAsync(...) to the imports of your root module.`;

/** An integration module (`integration` names it) whose app has no CronLockModule. */
export const CRON_LOCK_SERVICE_MISSING = (integration: string): string =>
  `${integration}: CronLockService is not available. ` +
  'Fix: import CronLockModule.forRoot(...) (or forRootAsync) in the app module.';

/** A getter of an integration (`api` names it) read before its module registered what it returns. */
export const READ_BEFORE_INIT = (api: string): string =>
  `${api}: not available before app.init(), which registers it. ` +
  'Fix: read it after await app.init() (or in onApplicationBootstrap()).';

/** `call` names the API, e.g. `CronLockService.run("job")`. */
export const INVALID_SCHEDULED_AT = (call: string): string =>
  `${call}: scheduledAt is not a valid date. Fix: pass a Date or a whole number of ms since epoch.`;

/** A lock store refused `scheduledAt` (see ScheduledAtRefusedError); `limitMs` is the bound. */
export const SCHEDULED_AT_REFUSED = (
  scheduledAt: string,
  reason: 'invalid' | 'ahead',
  limitMs: number,
): string =>
  reason === 'ahead'
    ? `scheduledAt ${scheduledAt} is more than ${limitMs / 60_000} minutes ahead of the lock store's clock: ` +
      'refused, nothing claimed. Fix: pass ms since epoch (not µs or s) and keep the clocks of the instances and the store in sync (NTP).'
    : `scheduledAt ${scheduledAt} is not a whole number of ms since epoch: refused, nothing claimed. ` +
      'Fix: pass a Date or ms since epoch.';

export const INVALID_MODULE_OPTION = (option: string, expected: string, value: unknown): string =>
  `CronLockModule: option ${option} must be ${expected}, got ${describeValue(value)}. Fix: correct or remove it.`;

/** Allowed key prefixes, in words (KEY_PREFIX_PATTERN). */
export const KEY_PREFIX_RULE = '1 to 64 characters among A-Z a-z 0-9 . _ : -';

/** `owner` is `CronLockModule`, `RedisLockStore` or the CLI's `--prefix`. */
export const INVALID_KEY_PREFIX = (owner: string, value: unknown): string =>
  `${owner}: option keyPrefix must be ${KEY_PREFIX_RULE}, got ${describeValue(value)}. ` +
  `Fix: use such a prefix (no braces, spaces or glob characters, which would break Redis Cluster ` +
  `slots, ACL key patterns and the CLI's scan), or leave keyPrefix out for the default cron-lock.`;

export const KEY_PREFIX_WITH_STORE = (): string =>
  `CronLockModule: option keyPrefix cannot be combined with store: the store names its own keys, ` +
  `so the prefix would be ignored and apps meant to be apart would share one namespace. ` +
  `Fix: give the prefix to the store (new RedisLockStore(redis, { keyPrefix })) and remove ` +
  `keyPrefix here, or pass redis instead of store.`;

export const FOR_ROOT_NOT_OBJECT = (value: unknown): string =>
  `CronLockModule.forRoot: the options must be an object, got ${describeValue(value)}. ` +
  `Fix: pass e.g. { redis: process.env.REDIS_URL } or { store: new MemoryLockStore() }.`;

export const OPTIONS_NOT_OBJECT = (value: unknown): string =>
  `CronLockModule: the options must be an object, got ${describeValue(value)}. ` +
  `Fix: return the options from forRootAsync's useFactory (or createCronLockOptions()), ` +
  `e.g. { redis: process.env.REDIS_URL }.`;

const ASYNC_FIX =
  'Fix: pass exactly one of useFactory, useClass or useExisting, e.g. ' +
  'CronLockModule.forRootAsync({ inject: [ConfigService], useFactory: (config: ConfigService) => ' +
  "({ redis: config.getOrThrow('REDIS_URL') }) }).";

/** `problem` says what is wrong with the `forRootAsync` argument. */
export const INVALID_ASYNC_OPTIONS = (problem: string): string =>
  `CronLockModule.forRootAsync: ${problem}. ${ASYNC_FIX}`;

/** `builder` is `useClass` or `useExisting`; `className` the class given to it. */
export const OPTIONS_FACTORY_WITHOUT_METHOD = (builder: string, className: string): string =>
  `CronLockModule.forRootAsync: ${builder} ${className} has no createCronLockOptions() method, ` +
  `so the options cannot be built. Fix: give the class a createCronLockOptions() that returns ` +
  `the options (see the CronLockOptionsFactory interface), or pass useFactory instead.`;

export const REDIS_AND_STORE = (): string =>
  `CronLockModule: options redis and store are exclusive. Fix: pass only one of them.`;

const MEMORY_STORE_FIX =
  'or, for one process only (tests, local development), choose the in-memory store explicitly ' +
  'with store: new MemoryLockStore()';

export const REDIS_EMPTY = (value: unknown): string =>
  `CronLockModule: option redis is ${describeValue(value)}, as an unset or empty environment ` +
  `variable gives (e.g. redis: process.env.REDIS_URL without REDIS_URL). Without a shared store ` +
  `every instance would run every occurrence, so the module refuses to start. ` +
  `Fix: set REDIS_URL (or pass a redis:// URL, ioredis options or a client), ${MEMORY_STORE_FIX}.`;

export const STORE_MISSING = (): string =>
  `CronLockModule: no lock store is configured (neither redis nor store). ` +
  `Fix: pass redis (a redis:// URL such as process.env.REDIS_URL, ioredis options or a client), ` +
  `${MEMORY_STORE_FIX}.`;

export const LOCK_LOST = (name: string, why: string): string =>
  `Lock of job "${name}" was lost (${why}): another instance may now run it. ` +
  `Stop side effects, or guard them with ctx.fencingToken.`;

export const ALERT_MISSED_SUCCESS = (
  name: string,
  missed: number,
  periodMs: number,
  lastSuccessAt: number | null,
): string =>
  `ALERT job "${name}": no successful run for ${missed} occurrences in a row (period ${periodMs}ms; ` +
  `last success ${lastSuccessAt === null ? 'never seen' : new Date(lastSuccessAt).toISOString()}). ` +
  `Check its failures, or whether it runs at all.`;

export const ALERT_STORE_FAILURES = (name: string, failures: number, error: string): string =>
  `ALERT job "${name}": the lock store failed ${failures} acquisitions in a row on this instance ` +
  `(last error: ${error}). Check that the lock store is reachable from this instance.`;

export const ALERT_LOST = (name: string, reason: string, fencingToken: number): string =>
  `ALERT job "${name}": a run lost its lock (${reason}, fence ${fencingToken}); ` +
  `another instance may have run it at the same time.`;

export const SHUTDOWN_TIMEOUT = (name: string, timeout: number): string =>
  `Job "${name}" was still running ${timeout}ms after shutdown began; its signal is aborted and its lock left to expire.`;

export const SCHEDULE_MODULE_MISSING = (job: string): string =>
  `${job} is decorated with @LockedCron but ScheduleModule is not imported, so it would never run. ` +
  `Fix: add ScheduleModule.forRoot() to the imports of your root module.`;

const NOT_LOCKED_FIX =
  'Fix: call it only from a @LockedCron/@CronLock method or a CronLockService.run() callback, ' +
  'or from code they await; in a test, run the job with runLockedJob() from nestjs-cron-lock/testing.';

export const NOT_LOCKED = (): string =>
  `assertLocked(): this code is not running under a cron lock. ${NOT_LOCKED_FIX}`;

export const ASYNC_CONTEXT_OFF = (): string =>
  `assertLocked(): runs are not tracked, so no code can be shown to run under a cron lock. ` +
  `Fix: set asyncContext: true in the CronLockModule options (off by default: on Node 20 and 22, ` +
  `AsyncLocalStorage slows down every promise of the process).`;

export const RUNNING_UNLOCKED = (name: string): string =>
  `assertLocked(): job "${name}" is running without its lock (the lock store failed and ` +
  `onStoreError is 'run'). Fix: use onStoreError: 'skip' for jobs that must never run unlocked.`;

export const LOCKED_RUN_ENDED = (name: string): string =>
  `assertLocked(): the locked run of "${name}" has already ended; this code was started by it ` +
  `but outlived it (e.g. a timer or a promise nobody awaited). Fix: await that work inside the job.`;

export const TLS_VERIFICATION_OFF = (): string =>
  `Redis TLS certificate verification is OFF for the lock connection (tls.rejectUnauthorized: false): ` +
  `traffic is encrypted, but anyone on the network path can impersonate the server. ` +
  `Fix: pass the server's CA certificate as tls.ca instead, when your provider gives it.`;

export const EVICTION_POLICY_RISK = (policy: string): string =>
  /^volatile-/i.test(policy)
    ? `Redis maxmemory-policy is ${policy}: it evicts keys that have an expiry, and every lock key has one, ` +
      `so under memory pressure a held lock or an occurrence marker may vanish and a job run twice. ` +
      `Fix: CONFIG SET maxmemory-policy noeviction (or a Redis of its own for the locks).`
    : `Redis maxmemory-policy is ${policy}: under memory pressure Redis may evict a held lock or an occurrence marker, ` +
      `so a job may run twice. Fix: CONFIG SET maxmemory-policy noeviction (or a Redis of its own for the locks).`;

/** `call` names the API, e.g. `CronLockService.trigger("job")`. */
export const TRIGGER_UNSUPPORTED = (call: string): string =>
  `${call}: the lock store in use cannot carry triggers (it has no triggers channel). ` +
  `Fix: use RedisLockStore, PostgresLockStore or MemoryLockStore, or give your store a ` +
  `triggers property (see the TriggerChannel interface).`;

/** `maxRetryMs`: the longest wait between two tries in the background. */
export const TRIGGER_LISTEN_FAILED = (detail: string, maxRetryMs: number): string =>
  `cannot listen for triggers: ${detail}; CronLockService.trigger() from other instances will not ` +
  `reach this one until it listens (tried again in the background, at most ${maxRetryMs / 1000}s ` +
  'apart, and at every trigger() call here; listening again is logged)';

export const TRIGGER_NOT_LISTENING = (call: string, timeout: number): string =>
  `${call}: the lock store did not answer the trigger channel's subscription within ${timeout}ms (the call's timeout), so no request was sent. Fix: check that the store is reachable, or pass a longer timeout.`;
export const TRIGGER_LISTENING_AGAIN =
  'listening for triggers again: CronLockService.trigger() from other instances reaches this one';

/** `call` is e.g. `CronLockService.pause("reports")`. */
export const INVALID_FLEET_ARGUMENT = (
  call: string,
  field: string,
  expected: string,
  value: unknown,
): string => `${call}: ${field} ${describeValue(value)} is not allowed. Fix: pass ${expected}.`;

export const STORE_LACKS_OPERATION = (call: string, operation: string): string =>
  `${call}: the lock store in use has no ${operation}() method, so it cannot keep this ` +
  `fleet-wide. Fix: use RedisLockStore, PostgresLockStore or MemoryLockStore, or add ` +
  `${operation}() to your store (see the LockStore interface).`;

export const STORE_CLOSED_WITH_APP = (call: string): string =>
  `${call}: app.close() closed the lock store CronLockModule created for this app. Fix: call it before, from onModuleDestroy or beforeApplicationShutdown at the latest, or pass a store of your own (the store option), which the module never closes.`;

export const JOB_PAUSED = (name: string, reason: string | null, until: string | null): string =>
  `Paused job "${name}" fleet-wide` +
  (until === null ? ' until resumed' : ` until ${until}`) +
  (reason === null ? '' : `: ${reason}`);

export const JOB_RESUMED = (name: string, wasPaused: boolean): string =>
  wasPaused ? `Resumed job "${name}" fleet-wide` : `Resume of job "${name}": it was not paused`;

export const REGISTER_JOBS_FAILED = (count: number, error: string): string =>
  `Could not record the schedule of ${count} job(s) in the lock store: ${error}; inspect() and ` +
  `the CLI show no cron or next run for them until an instance starts with the store reachable`;

/** `job` is `Class.method`; `allowed` the modes, quoted. */
export const INVALID_MODE = (
  job: string,
  option: string,
  value: unknown,
  allowed: readonly string[],
  suggestion: string | undefined,
): string =>
  `${job}: option ${option} must be ${oneOf(allowed)}, got ${describeValue(value)}` +
  (suggestion === undefined ? '' : ` (did you mean '${suggestion}'?)`) +
  `. Fix: ${suggestion === undefined ? 'use one of them, or remove the option' : `use '${suggestion}'`}.`;

export const CATCH_UP_WINDOW_TOO_SHORT = (
  job: string,
  windowMs: number,
  periodMs: number,
  explicit: boolean,
): string =>
  `${job}: catchUpWindow ${explicit ? '' : '(default 1d) '}is ${windowMs}ms, shorter than one period of the job's schedule (${periodMs}ms): ` +
  `no missed occurrence could ever be caught up. Fix: set catchUpWindow to at least ${periodMs}ms, or remove catchUp.`;

export const CATCH_UP_WINDOW_WITHOUT_CATCH_UP = (job: string): string =>
  `${job}: catchUpWindow is set but catchUp is not, so nothing is caught up. ` +
  `Fix: add catchUp: 'latest' or 'all', or remove catchUpWindow.`;

export const POLICY_NEEDS_SCHEDULE = (job: string, option: string): string =>
  `${job}: option ${option} needs a cron expression, and this job runs once (a date). Fix: remove ${option}.`;

/** One line per report of missed occurrences; `more` counts those past the listed ones. */
export const MISSED_OCCURRENCES = (
  job: string,
  occurrences: readonly number[],
  more: number,
  why: string,
): string =>
  `${job}: ${occurrences.length + more} occurrence(s) ran nowhere in the fleet: ` +
  occurrences.map((at) => new Date(at).toISOString()).join(', ') +
  (more > 0 ? ` and about ${more} more` : '') +
  ` (${why})`;

export const CATCH_UP_CAPPED = (job: string, cap: number, dropped: number): string =>
  `${job}: catchUp 'all' runs at most ${cap} missed occurrences at once; ${dropped} older one(s) in the window are recorded as missed and not run.`;

export const REPLACED = (job: string): string =>
  `${job}: a later occurrence replaces this run (overlap: 'replace'); ctx.signal is aborted and ` +
  `the next run starts once this one released its lock or the lock expired.`;
