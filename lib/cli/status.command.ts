import type { JobState, StoredLockState } from '../stores/lock-store.interface.js';
import type { CliConnection } from './cli-redis.js';
import { formatMs, formatTime, isoTime, NONE, oneLine, plural } from './cli-format.js';
import { formatTable } from './table.js';
import { redactUrl, shownInstanceId } from '../utils/redact.js';
import { mapBounded } from '../utils/bounded-map.js';

/**
 * One job in `status --json`: the fields of `CronLockService.inspect()` ({@link JobState}), times
 * as ISO strings, and whether the lock is held. `consecutiveFailures` is `null` when the store
 * does not record it (an older or custom store).
 */
export interface JobStatusJson extends Omit<JobState<string>, 'consecutiveFailures'> {
  held: boolean;
  consecutiveFailures: number | null;
}

/** The whole of `status --json`. */
export interface StatusJson {
  prefix: string;
  checkedAt: string;
  jobs: JobStatusJson[];
}

/** Names of every job with state under the connection's prefix (or in its table), sorted. */
export function findJobNames(connection: CliConnection): Promise<string[]> {
  return connection.jobNames();
}

/**
 * `nestjs-cron-lock status`: every job's lock and history, as a table or JSON, read
 * `connection.readsAtOnce` jobs at a time.
 */
export async function statusCommand(
  connection: CliConnection,
  options: { prefix: string; json: boolean },
  print: (text: string) => void,
): Promise<void> {
  const names = await findJobNames(connection);
  // Each read is the module's own inspect script: the lock's ttl and the state at one instant.
  // A few at a time: every read's deadline starts when it is sent, and thousands sent at once
  // (a name per tenant) would queue past it, failing the command as if the server were down.
  const states = await mapBounded(names, connection.readsAtOnce, (name) =>
    connection.store.inspect(name),
  );
  const checkedAt = Date.now();

  if (options.json) {
    const json: StatusJson = {
      prefix: options.prefix,
      checkedAt: new Date(checkedAt).toISOString(),
      jobs: states.map(toJson),
    };
    print(JSON.stringify(json, null, 2));
    return;
  }

  if (states.length === 0) {
    print(
      connection.namespace === 'prefix'
        ? `No jobs under prefix "${options.prefix}" at ${connection.address} ` +
            `(no ${options.prefix}:{*}:state keys). Check --prefix: it is the module's keyPrefix ` +
            `(after the client's own ioredis keyPrefix, if it has one).`
        : `No jobs in table ${options.prefix} at ${connection.address}. ` +
            `Check --schema and --table: they are the store's schema and table options.`,
    );
    return;
  }
  const held = states.filter(isHeld).length;
  print(
    formatTable(
      [
        'JOB',
        'STATE',
        'HOLDER',
        'TTL LEFT',
        'LAST TICK (UTC)',
        'LAST SUCCESS (UTC, TOOK)',
        'FENCE',
        'FAILS',
        'NEXT (UTC)',
      ],
      states.map((state) => [
        state.name,
        stateOf(state),
        oneLine(shownInstanceId(state.holder) ?? NONE),
        formatMs(state.ttlLeft),
        formatTime(state.lastTick),
        lastSuccess(state),
        state.fencingToken === null ? NONE : String(state.fencingToken),
        state.consecutiveFailures === undefined ? NONE : String(state.consecutiveFailures),
        formatTime(state.nextAt),
      ]),
    ),
  );
  print(
    `\n${plural(states.length, 'job')} (${held} held) ${where(connection, options.prefix)} at ` +
      `${connection.address}, ${formatTime(checkedAt)} UTC`,
  );
}

/** `under prefix "cron-lock"` (Redis) or `in table public.cron_lock` (PostgreSQL). */
export function where(connection: CliConnection, prefix: string): string {
  return connection.namespace === 'prefix' ? `under prefix "${prefix}"` : `in table ${prefix}`;
}

/** `held` or `free`, and `paused` (until when) while paused fleet-wide. */
function stateOf(state: StoredLockState): string {
  const lock = isHeld(state) ? 'held' : 'free';
  if (!state.paused) {
    return lock;
  }
  const until = state.pausedUntil ? ` until ${formatTime(state.pausedUntil)}` : '';
  return `${lock}, paused${until}`;
}

function isHeld(state: StoredLockState): boolean {
  return state.ttlLeft !== null;
}

function lastSuccess(state: StoredLockState): string {
  if (state.lastSuccessAt === null || state.lastSuccessAt === undefined) {
    return NONE;
  }
  const took = formatMs(state.lastDurationMs);
  return took === NONE
    ? formatTime(state.lastSuccessAt)
    : `${formatTime(state.lastSuccessAt)} (${took})`;
}

/** Fields a store does not record (an older or custom store) come out as `null`. */
function toJson(state: StoredLockState): JobStatusJson {
  return {
    name: state.name,
    held: isHeld(state),
    holder: shownInstanceId(state.holder),
    ttlLeft: state.ttlLeft,
    lastTick: isoTime(state.lastTick),
    fencingToken: state.fencingToken,
    lastSuccessAt: isoTime(state.lastSuccessAt),
    lastDurationMs: state.lastDurationMs ?? null,
    consecutiveFailures: state.consecutiveFailures ?? null,
    lastOutcome: state.lastOutcome ?? null,
    lastFinishedAt: isoTime(state.lastFinishedAt),
    paused: state.paused ?? false,
    // A note kept by a store's own pause() may quote a password: redacted, as on the dashboard.
    pauseReason: typeof state.pauseReason === 'string' ? redactUrl(state.pauseReason) : null,
    pausedUntil: isoTime(state.pausedUntil),
    cron: state.cron ?? null,
    timeZone: state.timeZone ?? null,
    nextAt: isoTime(state.nextAt),
  };
}
