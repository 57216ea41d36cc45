/* Every message a user can read, in one place (as @nestjs/schedule's schedule.messages.ts). */

const NAME_RULE = '1 to 128 characters among A-Z a-z 0-9 . _ : -';

export const INVALID_CRON = (job: string, cronTime: unknown, reason: string): string =>
  `${job}: invalid cron expression ${JSON.stringify(cronTime)} (${reason}). ` +
  `Fix: use 5 or 6 fields such as '0 * * * *' or a CronExpression value.`;

export const INVALID_TTL = (job: string, field: string, value: unknown): string =>
  `${job}: ${field} ${JSON.stringify(value)} is not a positive duration. ` +
  `Fix: pass milliseconds (> 0) or a string such as '500ms', '30s', '5m', '1h', '1d'.`;

export const MIN_HOLD_OVER_TTL = (job: string, minHold: number, ttl: number): string =>
  `${job}: minHold (${minHold}ms) is longer than ttl (${ttl}ms), so the lock would expire before it. ` +
  `Fix: lower minHold or raise ttl.`;

export const INVALID_LOCK_NAME = (job: string, name: unknown): string =>
  `${job}: lock name ${JSON.stringify(name)} is not allowed. ` +
  `Fix: use ${NAME_RULE} (no braces, spaces or glob characters).`;

export const DUPLICATE_LOCK_NAME = (name: string, first: string, second: string): string =>
  `${second}: lock name "${name}" is already used by ${first}, so the two jobs would block each other. ` +
  `Fix: give one of them a distinct { name } option.`;

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

export const MODULE_MISSING = (job: string): string =>
  `${job} is decorated with @LockedCron/@CronLock but CronLockModule is not imported in this app. ` +
  `Fix: add CronLockModule.forRoot({ redis: ... }) or CronLockModule.forRootAsync(...) to the imports of your root module.`;

export const INVALID_MODULE_OPTION = (option: string, expected: string, value: unknown): string =>
  `CronLockModule: option ${option} must be ${expected}, got ${describeValue(value)}. Fix: correct or remove it.`;

export const REDIS_AND_STORE = (): string =>
  `CronLockModule: options redis and store are exclusive. Fix: pass only one of them.`;

export const LOCK_LOST = (name: string, why: string): string =>
  `Lock of job "${name}" was lost (${why}): another instance may now run it. ` +
  `Stop side effects, or guard them with ctx.fencingToken.`;

export const SHUTDOWN_TIMEOUT = (name: string, timeout: number): string =>
  `Job "${name}" was still running ${timeout}ms after shutdown began; its signal is aborted and its lock left to expire.`;

function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  }
  if (value === null || typeof value !== 'object') {
    return String(value);
  }
  return Array.isArray(value) ? 'an array' : 'an object';
}

export const SCHEDULE_MODULE_MISSING = (job: string): string =>
  `${job} is decorated with @LockedCron but ScheduleModule is not imported, so it would never run. ` +
  `Fix: add ScheduleModule.forRoot() to the imports of your root module.`;
