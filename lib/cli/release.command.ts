import { createInterface } from 'node:readline';
import type { StoredLockState } from '../stores/lock-store.interface.js';
import { CliError, CliUsageError } from './cli.errors.js';
import { formatMs, formatTime, NONE, oneLine } from './cli-format.js';
import type { CliConnection } from './cli-redis.js';
import { requireJob } from './fleet-store.js';
import { shownInstanceId } from '../utils/redact.js';
import { where } from './status.command.js';

/** Where release talks to the person running it. */
export interface ReleaseIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  /** Where the question goes (see {@link promptStream}). */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  print: (text: string) => void;
}

/**
 * `nestjs-cron-lock release <job>`: force-frees a stuck lock after showing who holds it.
 *
 * Only the lock key goes: the state hash (occurrence marker, fencing counter) stays, so the
 * occurrence that was running is not run again and fencing tokens keep increasing. The delete is
 * the module's owner-checked release with the token read before asking, so a lock that changed
 * hands while the operator was reading (released, then taken by a new run) is never deleted.
 *
 * @returns `released`; `free` when there was nothing to release; `declined` when the operator
 *   answered no.
 */
export async function releaseCommand(
  connection: CliConnection,
  options: { prefix: string; job: string; yes: boolean },
  io: ReleaseIo,
): Promise<'released' | 'free' | 'declined'> {
  const { job, prefix } = options;
  // The token first, then the state: if a new run takes the lock in between, the state shows the
  // new holder while the token is the old one, and the release below deletes nothing.
  const token = await connection.lockToken(job);
  const state = await connection.store.inspect(job);

  if (token === null || state.ttlLeft === null) {
    if (state.lastTick === null && state.fencingToken === null) {
      // Nothing claimed yet is not "no such job": an instance registers a job's schedule at
      // bootstrap, before its first occurrence, and status lists it from then on.
      await requireJob(connection, prefix, job);
    }
    const fence =
      state.fencingToken === null ? 'no fencing token yet' : `fence ${state.fencingToken}`;
    io.print(`The lock of "${job}" is free (${lastTickOf(state)}, ${fence}): nothing to release.`);
    return 'free';
  }

  io.print(describeHolder(job, where(connection, prefix), state));
  if (!options.yes) {
    if (!io.stdin.isTTY) {
      throw new CliUsageError(
        `Refusing to release "${job}" without confirmation: stdin is not a terminal. ` +
          'Re-run with --yes to release it.',
        false,
      );
    }
    const answer = await ask(io, `Release the lock of "${job}"? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.print('Not released.');
      return 'declined';
    }
  }

  const released = await connection.store.release({ name: job, token });
  if (!released) {
    throw new CliError(
      `The lock of "${job}" changed since it was read (released, or taken by a new run): ` +
        'nothing was deleted. Run status to see it now.',
    );
  }
  // A paused job runs nothing once its lock is free: saying the next occurrence runs would
  // send the operator looking for a run that never comes.
  const next =
    pausedFor(state) === null
      ? 'the next occurrence runs on whichever instance ticks first.'
      : `the job is ${pausedFor(state)}, so no occurrence runs before then ` +
        `(nestjs-cron-lock resume ${job}).`;
  // A manual run claims no occurrence: there is no marker to keep, and no time to show for it.
  const marker =
    state.lastTick === null
      ? `It ran no occurrence (${MANUAL_RUN}), so none is marked as run`
      : `The occurrence marker stays (last tick ${formatTime(state.lastTick)} UTC), so that ` +
        'occurrence does not run again';
  io.print(
    `Released the lock of "${job}" (was held by ${holderOf(state)}, ` +
      `fence ${state.fencingToken ?? NONE}). ${marker}; ${next}`,
  );
  return 'released';
}

/** `paused until …` while a pause is in force, else `null`. */
function pausedFor(state: StoredLockState): string | null {
  if (!state.paused) {
    return null;
  }
  return state.pausedUntil === null
    ? 'paused until resumed'
    : `paused until ${formatTime(state.pausedUntil)} UTC`;
}

/** What holds a lock with no occurrence claimed: `run()` without `scheduledAt`, or a trigger. */
const MANUAL_RUN = 'a manual or triggered run';

/** The last occurrence claimed, in words: a time, or that there was none. */
function lastTickOf(state: StoredLockState): string {
  return state.lastTick === null
    ? 'no occurrence claimed yet'
    : `last tick ${formatTime(state.lastTick)} UTC`;
}

/** The instance that holds the lock, as every output names an instance read from the store. */
function holderOf(state: StoredLockState): string {
  return typeof state.holder === 'string'
    ? oneLine(shownInstanceId(state.holder))
    : 'an unknown instance';
}

function describeHolder(job: string, where: string, state: StoredLockState): string {
  const holder = holderOf(state);
  const paused = pausedFor(state);
  const running =
    state.lastTick === null
      ? `${MANUAL_RUN} (no occurrence)`
      : `occurrence ${formatTime(state.lastTick)} UTC`;
  return (
    `"${job}" (${where.replace(/^under /, '')}) is locked by ${holder}: ttl left ${formatMs(state.ttlLeft)}, ` +
    `fence ${state.fencingToken ?? NONE}, ${running}.\n` +
    `If ${holder} is still running the job, its next renewal finds the lock gone and aborts ` +
    'its ctx.signal (LockLostError); ' +
    (paused === null
      ? 'until then another instance may start the next occurrence.'
      : `the job is ${paused}: no instance starts it meanwhile.`)
  );
}

/**
 * Where a question (and a declined answer's reply) goes: the terminal. That is stderr, as
 * stdout is the command's output and may be piped (`trigger --json | jq`) while stdin is a
 * terminal; but stdout when only it is a terminal (`2>errors.log`, `2>/dev/null`), where a
 * question on stderr would reach the file, and the command wait for an answer nobody was asked.
 */
export function promptStream(io: ReleaseIo): NodeJS.WritableStream {
  return io.stderr.isTTY !== true && io.stdout.isTTY === true ? io.stdout : io.stderr;
}

/** One line from the terminal; an empty answer if the input ends first (Ctrl-D). */
export function ask(io: ReleaseIo, question: string): Promise<string> {
  // Not readline's terminal mode: the terminal echoes the answer itself, with no escape codes.
  const prompt = createInterface({ input: io.stdin, output: promptStream(io), terminal: false });
  return new Promise<string>((resolve) => {
    prompt.once('close', () => resolve(''));
    prompt.question(question, (answer) => {
      resolve(answer);
      prompt.close();
    });
  });
}
