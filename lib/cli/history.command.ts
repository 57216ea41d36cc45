import type { HistoryEntry } from '../stores/lock-store.interface.js';
import { cellText, formatMs, formatTime, isoTime, plural } from './cli-format.js';
import type { CliConnection } from './cli-redis.js';
import { requireJob, requireMethod } from './fleet-store.js';
import { where } from './status.command.js';
import { formatTable } from './table.js';
import { redactThrownText, shownInstanceId } from '../utils/redact.js';

/** The whole of `history --json`: the store's entries, newest first, times as ISO strings. */
export interface HistoryJson {
  job: string;
  prefix: string;
  checkedAt: string;
  entries: Array<HistoryEntry<string>>;
}

/**
 * `nestjs-cron-lock history <job>`: the job's last runs (where, when, how long, how it ended)
 * and the occurrences that were missed, skipped while paused or merged, newest first, as a table
 * or JSON. Reads what the instances recorded fleet-wide; needs no app code. A job the store does
 * not know is an error naming the jobs there (exit 1), as for `release` and `pause`.
 */
export async function historyCommand(
  connection: CliConnection,
  options: { prefix: string; job: string; limit: number; json: boolean },
  print: (text: string) => void,
): Promise<void> {
  const { job, prefix } = options;
  const store = connection.store;
  requireMethod(store, 'history', 'read the history of jobs');
  const entries = await store.history(job, options.limit);
  if (entries.length === 0) {
    // An unknown job (a typo, the wrong prefix) has no history either: say so, exit 1, as
    // release and pause do, rather than an empty answer that reads as "never ran".
    await requireJob(connection, prefix, job);
  }
  const checkedAt = Date.now();
  if (options.json) {
    const json: HistoryJson = {
      job,
      prefix,
      checkedAt: new Date(checkedAt).toISOString(),
      entries: entries.map(toJson),
    };
    print(JSON.stringify(json, null, 2));
    return;
  }
  if (entries.length === 0) {
    print(`No history of "${job}" ${where(connection, prefix)} at ${connection.address}.`);
    return;
  }
  print(
    formatTable(
      [
        'SCHEDULED (UTC)',
        'KIND',
        'OUTCOME',
        'INSTANCE',
        'TRIGGER',
        'STARTED (UTC)',
        'TOOK',
        'FENCE',
        'ERROR',
      ],
      entries.map((entry) => [
        formatTime(entry.scheduledAt),
        cellText(entry.kind),
        cellText(entry.outcome),
        cellText(shownInstanceId(entry.instanceId)),
        cellText(entry.trigger),
        formatTime(entry.startedAt),
        formatMs(entry.durationMs),
        cellText(entry.fencingToken),
        cellText(errorOf(entry)),
      ]),
    ),
  );
  print(
    `\n${plural(entries.length, 'entry').replace(/entrys$/, 'entries')} of "${job}" ` +
      `${where(connection, prefix)} at ${connection.address}, newest first`,
  );
}

function toJson(entry: HistoryEntry): HistoryEntry<string> {
  return {
    ...entry,
    instanceId: shownInstanceId(entry.instanceId),
    error: errorOf(entry),
    scheduledAt: isoTime(entry.scheduledAt),
    startedAt: isoTime(entry.startedAt),
    finishedAt: isoTime(entry.finishedAt),
  };
}

/**
 * The entry's error, redacted as the dashboard and `status` show pause notes: an older version or
 * a custom store may have kept a URL password or a whole owner token in it.
 */
function errorOf(entry: HistoryEntry): string | null {
  return typeof entry.error === 'string' ? redactThrownText(entry.error) : entry.error;
}
