import {
  canTrigger,
  DEFAULT_TRIGGER_TIMEOUT_MS,
  TriggerRequester,
  type TriggerResult,
} from '../runner/trigger-requester.js';
import { CliError } from './cli.errors.js';
import { formatMs, formatTime, isoTime, oneLine } from './cli-format.js';
import type { CliConnection } from './cli-redis.js';
import { withTimeout } from '../utils/with-timeout.js';
import { confirm } from './confirm.js';
import type { ReleaseIo } from './release.command.js';
import { where } from './status.command.js';

/** `trigger --json`: what happened, times as ISO strings. */
export interface TriggerJson {
  job: string;
  ran: boolean;
  /** Why it did not run (`no-live-instance`, `paused`, `held`, …); `null` when it ran. */
  reason: string | null;
  instanceId: string | null;
  fencingToken: number | null;
  startedAt: string | null;
  /** With `--wait`: `completed`, `failed`, `lost`, `aborted` or `unknown`; else `null`. */
  outcome: string | null;
  durationMs: number | null;
}

/**
 * `nestjs-cron-lock trigger <job>`: asks the fleet to run the job now, as
 * `CronLockService.trigger()` does, and says where it ran. Exit code 0 when it started (with
 * `--wait`: when it completed), 1 otherwise.
 */
export async function triggerCommand(
  connection: CliConnection,
  options: {
    prefix: string;
    job: string;
    yes: boolean;
    force: boolean;
    wait: boolean;
    json: boolean;
  },
  io: ReleaseIo,
): Promise<'ran' | 'not-ran' | 'declined'> {
  const { job, prefix } = options;
  const store = connection.store;
  if (!canTrigger(store)) {
    throw new CliError('This lock store cannot carry triggers.');
  }
  // No check that the job exists: a job that never ran has no state yet, and the live
  // instances are the ones that know their jobs.
  const go = await confirm(
    io,
    options.yes,
    `Run "${job}" (${where(connection, prefix).replace(/^under /, '')}) now on one live instance` +
      `${options.force ? ', even if paused' : ''}?`,
    `trigger "${job}"`,
  );
  if (!go) {
    return 'declined';
  }
  // Its waits keep the command alive: nothing else may (see TriggerRequester).
  const requester = new TriggerRequester(store, true);
  const subscribing = store.triggers.subscribe((message) => {
    if (message.kind === 'reply') {
      requester.onReply(message);
    }
  });
  const noAnswer = `no answer within ${connection.listenTimeout / 1_000}s`;
  let subscription: Awaited<typeof subscribing>;
  try {
    // Bounded here: the Redis store's subscriber waits for a server that stops answering (an app
    // must hear the fleet again once it is back), which would hold a command for good.
    subscription = await withTimeout(subscribing, connection.listenTimeout, noAnswer);
  } catch (error) {
    // Closed if it ever listens; the connection's close ends one still being opened.
    subscribing.then((late) => late.close()).catch(() => undefined);
    const why =
      error instanceof Error && error.message === noAnswer ? noAnswer : connection.describe(error);
    const server = connection.namespace === 'table' ? 'PostgreSQL' : 'Redis';
    throw new CliError(
      `Cannot listen for the instances' replies on ${server} at ${connection.address}: ${why}; ` +
        'no request was sent.',
    );
  }
  // A connection that ended for good carries no reply and no answer any more: the waits end at
  // once, rather than ask a closed connection every few seconds for as long as the run lasts.
  let lost: string | null = null;
  const unwatch =
    connection.onLost?.((why) => {
      lost = why;
      requester.close();
    }) ?? (() => undefined);
  let result: TriggerResult;
  try {
    // The answering instance comes redacted, as CronLockService.trigger() answers it.
    result = await requester.request(
      {
        name: job,
        force: options.force,
        wait: options.wait,
        timeout: DEFAULT_TRIGGER_TIMEOUT_MS,
      },
      false,
    );
  } finally {
    unwatch();
    await subscription.close();
  }
  const home = connection.namespace === 'table' ? 'table' : 'key prefix';
  // What close() answers (not an answer that came in before the connection ended).
  const cutShort = result.ran ? result.outcome === 'unknown' : result.reason === 'shutting-down';
  if (lost !== null && cutShort) {
    return connectionLost(connection, job, result, lost, options.json, io);
  }
  io.print(options.json ? JSON.stringify(toJson(result), null, 2) : describe(result, home));
  const succeeded = result.ran && (!options.wait || result.outcome === 'completed');
  return succeeded ? 'ran' : 'not-ran';
}

/**
 * The connection ended while the command waited: says what is known (a run that started, in the
 * output as usual, its outcome `unknown`), and fails with why the rest is not.
 */
function connectionLost(
  connection: CliConnection,
  job: string,
  result: TriggerResult,
  why: string,
  json: boolean,
  io: ReleaseIo,
): never {
  const server = connection.namespace === 'table' ? 'PostgreSQL' : 'Redis';
  const lost = `The command lost the connection to ${server} at ${connection.address} (${why})`;
  const check = `see \`nestjs-cron-lock history ${job}\``;
  if (!result.ran) {
    throw new CliError(
      `${lost} before any instance answered: an instance may still take the request; ${check}.`,
    );
  }
  const started = { ...result, outcome: 'unknown' as const };
  io.print(
    json
      ? JSON.stringify(toJson(started), null, 2)
      : describe({ ...result, outcome: undefined }, ''),
  );
  throw new CliError(`${lost} while the run went on: its outcome is unknown; ${check}.`);
}

/**
 * `home`: where the jobs live, in the store's words (`key prefix` or `table`). The instance and
 * its skip reason come from its reply: printed on one line, as every text the CLI reads.
 */
function describe(result: TriggerResult, home: string): string {
  const job = `"${result.name}"`;
  if (!result.ran) {
    switch (result.reason) {
      case 'no-live-instance':
        return (
          `${job} did not run: no live instance has this job (none answered within ` +
          `${DEFAULT_TRIGGER_TIMEOUT_MS / 1_000}s). Is an app with the job running on this ${home}?`
        );
      case 'paused':
        return `${job} did not run: it is paused. Pass --force to run it anyway, or resume it.`;
      case 'held':
        return `${job} did not run: a run of it is in progress (the lock is held).`;
      default:
        return (
          `${job} did not run on ${oneLine(result.instanceId ?? 'any instance')}: ` +
          `${oneLine(result.reason)}.`
        );
    }
  }
  const instance = oneLine(result.instanceId);
  const started = `${job} started on ${instance} (fence ${result.fencingToken}) at ${formatTime(result.scheduledAt.getTime())} UTC`;
  if (result.outcome === undefined) {
    return `${started}.`;
  }
  if (result.outcome === 'unknown') {
    return `${started}; ${instance} stopped answering and the lock is gone: outcome unknown.`;
  }
  if (result.outcome === 'lost') {
    return (
      `${started}; it lost its lock after ${formatMs(result.durationMs)} (released, or not ` +
      'renewed in time) and was told to stop (outcome lost): its work may be cut short.'
    );
  }
  if (result.outcome === 'aborted') {
    return (
      `${started}; its signal was aborted after ${formatMs(result.durationMs)} (replaced by a ` +
      "later occurrence under overlap 'replace', or given up on by its instance's shutdown) " +
      '(outcome aborted): its work may be cut short.'
    );
  }
  return `${started}; ${result.outcome} in ${formatMs(result.durationMs)}.`;
}

function toJson(result: TriggerResult): TriggerJson {
  return result.ran
    ? {
        job: result.name,
        ran: true,
        reason: null,
        instanceId: result.instanceId,
        fencingToken: result.fencingToken,
        startedAt: isoTime(result.scheduledAt.getTime()),
        outcome: result.outcome ?? null,
        durationMs: result.durationMs ?? null,
      }
    : {
        job: result.name,
        ran: false,
        reason: result.reason,
        instanceId: result.instanceId ?? null,
        fencingToken: null,
        startedAt: null,
        outcome: null,
        durationMs: null,
      };
}
