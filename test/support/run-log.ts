import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LockContext } from 'nestjs-cron-lock';
import { forkTs } from './fork-ts.js';

/** One run of a locked job, as recorded outside Redis (times are wall-clock ms). */
export interface RunRecord {
  instance: string;
  /** The occurrence, ms since epoch. */
  scheduledAt: number;
  fencingToken: number;
  start: number;
  end: number;
}

/** Wall-clock ms with sub-millisecond resolution, the time base of {@link RunRecord}. */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/** The record of `ctx`'s run, which started at `start` ({@link wallNow}) and ends now. */
export function runRecordOf(ctx: LockContext, start: number): RunRecord {
  return {
    instance: ctx.instanceId,
    scheduledAt: ctx.scheduledAt.getTime(),
    fencingToken: ctx.fencingToken,
    start,
    end: wallNow(),
  };
}

/** The body of a short locked job in a test: `workMs` of work, then the run's record. */
export async function recordedRun(ctx: LockContext, workMs = 5): Promise<RunRecord> {
  const start = wallNow();
  await sleep(workMs);
  return runRecordOf(ctx, start);
}

/** A run of one of a test's jobs: its record, the job, its trigger and why it was told to stop. */
export interface JobRun extends RunRecord {
  job: string;
  trigger: string;
  /** The abort reason, when the run was told to stop. */
  abortedBy?: unknown;
}

/**
 * Runs `work` as the body of `ctx`'s run of `job`, and adds the run to `runs` when it ends,
 * even when `work` throws.
 */
export async function recordJobRun(
  runs: JobRun[],
  job: string,
  ctx: LockContext,
  work: () => Promise<void>,
): Promise<void> {
  const start = wallNow();
  try {
    await work();
  } finally {
    runs.push({
      job,
      trigger: ctx.trigger,
      ...runRecordOf(ctx, start),
      ...(ctx.signal.aborted ? { abortedBy: ctx.signal.reason } : {}),
    });
  }
}

/** A job body that lasts until its run is told to stop, and `maxMs` at most. */
export async function untilAborted(ctx: LockContext, maxMs: number): Promise<void> {
  await Promise.race([
    sleep(maxMs),
    new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true })),
  ]);
}

/** What test/fixtures/worker-app.ts reports to its parent over IPC. */
export type WorkerMessage =
  | { type: 'ready'; instance: string; at: number }
  | { type: 'started'; instance: string; scheduledAt: number; fencingToken: number; start: number }
  | ({ type: 'run'; aborted: boolean } & RunRecord)
  | { type: 'lost'; instance: string; scheduledAt: number | null; reason: string }
  | { type: 'log'; instance: string; level: 'warn' | 'error'; message: string }
  | {
      type: 'crash';
      instance: string;
      kind: 'unhandledRejection' | 'uncaughtException';
      message: string;
    }
  | { type: 'stopped'; instance: string };

/** Runs grouped by occurrence. */
export function runsByOccurrence<R extends { scheduledAt: number }>(
  runs: readonly R[],
): Map<number, R[]> {
  const byOccurrence = new Map<number, R[]>();
  for (const run of runs) {
    const list = byOccurrence.get(run.scheduledAt) ?? [];
    list.push(run);
    byOccurrence.set(run.scheduledAt, list);
  }
  return byOccurrence;
}

/** Occurrences that ran more than once, with their runs. */
export function duplicateOccurrences<R extends { scheduledAt: number }>(runs: readonly R[]): R[][] {
  return [...runsByOccurrence(runs).values()].filter((list) => list.length > 1);
}

/** Pairs of runs whose [start, end) intervals intersect (allowing `slackMs` of clock noise). */
export function overlappingRuns(
  runs: readonly RunRecord[],
  slackMs = 0,
): Array<[RunRecord, RunRecord]> {
  const sorted = [...runs].sort((a, b) => a.start - b.start);
  const overlaps: Array<[RunRecord, RunRecord]> = [];
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].start + slackMs < sorted[i - 1].end) {
      overlaps.push([sorted[i - 1], sorted[i]]);
    }
  }
  return overlaps;
}

/** Neighbours (in occurrence order) whose fencing tokens do not strictly increase. */
export function nonIncreasingFences<R extends { scheduledAt: number; fencingToken: number }>(
  runs: readonly R[],
): Array<[R, R]> {
  const sorted = [...runs].sort((a, b) => a.scheduledAt - b.scheduledAt);
  const bad: Array<[R, R]> = [];
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].fencingToken <= sorted[i - 1].fencingToken) {
      bad.push([sorted[i - 1], sorted[i]]);
    }
  }
  return bad;
}

/** A forked worker-app process and everything it reported. */
export class Worker {
  readonly messages: WorkerMessage[] = [];
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;

  constructor(
    readonly instance: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (message: WorkerMessage) => this.messages.push(message));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve([code, signal]));
    });
  }

  /** Forks test/fixtures/worker-app.ts with the given settings. */
  static fork(instance: string, env: Record<string, string>): Worker {
    const child = forkTs('test/fixtures/worker-app.ts', [], {
      env: { ...process.env, ...env, WORKER_INSTANCE_ID: instance },
    });
    return new Worker(instance, child);
  }

  of<T extends WorkerMessage['type']>(type: T): Array<Extract<WorkerMessage, { type: T }>> {
    return this.messages.filter((m): m is Extract<WorkerMessage, { type: T }> => m.type === type);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Asks for a graceful stop (`app.close()`) and waits for the exit. */
  async stop(): Promise<[number | null, NodeJS.Signals | null]> {
    if (this.alive && this.child.connected) {
      this.child.send('stop');
    }
    return this.exited;
  }

  /** Last resort in cleanup: kills the process if still alive. */
  async kill(): Promise<void> {
    if (this.alive) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
