import type { LockStore } from 'nestjs-cron-lock';
import { newToken } from '../contract/lock-store.contract.js';

/** The run {@link recordRun} makes. */
export interface RecordedRun {
  name: string;
  scheduledAt: number;
  historySize: number;
  ttl?: number;
  markerTtl?: number;
  /** The run failed with this error text (it completed without one). */
  error?: string;
  /** Occurrences the release records as missed, beside the run. */
  missed?: number[];
}

/**
 * One run of a job's occurrence through `store`, as the runner makes it: the acquire, then a
 * release that records the run in the history (completed, or failed with `run.error`). Throws if the lock was refused.
 * `beforeRelease` runs between the two.
 */
export async function recordRun(
  store: LockStore,
  run: RecordedRun,
  beforeRelease?: () => void,
): Promise<void> {
  const { name, scheduledAt, historySize } = run;
  const token = newToken();
  const claimed = await store.acquire({
    name,
    token,
    ttl: run.ttl ?? 60_000,
    instanceId: 'a',
    scheduledAt,
    markerTtl: run.markerTtl,
    historySize,
  });
  if (!claimed.acquired) throw new Error(`acquisition refused: ${claimed.reason}`);
  beforeRelease?.();
  const finishedAt = Date.now();
  const outcome = run.error === undefined ? 'completed' : 'failed';
  await store.release({
    name,
    token,
    historySize,
    ...(run.missed ? { missed: run.missed } : {}),
    outcome: {
      status: outcome,
      durationMs: 1,
      finishedAt,
      run: {
        scheduledAt,
        startedAt: finishedAt - 1,
        fencingToken: claimed.fencingToken,
        instanceId: 'a',
        trigger: 'schedule',
        outcome,
        error: run.error ?? null,
      },
    },
  });
}
