import { redactUrl } from '../utils/redact.js';
import { formatTime } from './cli-format.js';
import type { CliConnection } from './cli-redis.js';
import { confirm } from './confirm.js';
import { requireJob, requireMethod } from './fleet-store.js';
import type { ReleaseIo } from './release.command.js';
import { where } from './status.command.js';

/**
 * `nestjs-cron-lock pause <job>`: pauses the job fleet-wide, in the store, as
 * `CronLockService.pause()` does. Every instance skips it (reason `paused`) from its next
 * occurrence; a run in progress is not interrupted.
 */
export async function pauseCommand(
  connection: CliConnection,
  options: { prefix: string; job: string; yes: boolean; reason?: string; until?: number },
  io: ReleaseIo,
): Promise<'done' | 'declined'> {
  const { job, prefix } = options;
  const store = connection.store;
  requireMethod(store, 'pause', 'pause jobs');
  await requireJob(connection, prefix, job);
  const until = options.until === undefined ? '' : ` until ${formatTime(options.until)} UTC`;
  // Shown on other operators' terminals, as `CronLockService.pause()` keeps it: no password.
  const note = options.reason === undefined ? null : redactUrl(options.reason);
  const reason = note === null ? '' : ` (reason: ${note})`;
  const here = where(connection, prefix).replace(/^under /, '');
  if (
    !(await confirm(
      io,
      options.yes,
      `Pause "${job}" (${here}) fleet-wide${until}?`,
      `pause "${job}"`,
    ))
  ) {
    return 'declined';
  }
  await store.pause(job, { reason: note, until: options.until ?? null });
  io.print(
    `Paused "${job}" (${here})${until}${reason}. Every instance skips it from its next ` +
      'occurrence (reason: paused); a run in progress goes on. Undo with: ' +
      `nestjs-cron-lock resume ${job}`,
  );
  return 'done';
}

/**
 * `nestjs-cron-lock resume <job>`: undoes {@link pauseCommand}. A job with no pause in force
 * (never paused, resumed meanwhile, or past its `until`) is said to be so, as `release` says a
 * free lock is: exit 0, nothing done.
 */
export async function resumeCommand(
  connection: CliConnection,
  options: { prefix: string; job: string; yes: boolean },
  io: ReleaseIo,
): Promise<'done' | 'not-paused' | 'declined'> {
  const { job, prefix } = options;
  const store = connection.store;
  requireMethod(store, 'resume', 'resume jobs');
  await requireJob(connection, prefix, job);
  const here = where(connection, prefix).replace(/^under /, '');
  if (
    !(await confirm(io, options.yes, `Resume "${job}" (${here}) fleet-wide?`, `resume "${job}"`))
  ) {
    return 'declined';
  }
  if (!(await store.resume(job))) {
    // "Resumed" would tell an operator who paused it elsewhere (another prefix, table or store)
    // that the job runs again.
    io.print(`"${job}" (${here}) was not paused: nothing to resume.`);
    return 'not-paused';
  }
  io.print(
    `Resumed "${job}" (${here}): its next occurrence runs on whichever instance ticks first.`,
  );
  return 'done';
}
