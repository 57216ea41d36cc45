/**
 * What a fault worker writes to its sink: one JSON object per line, appended synchronously so
 * that a record exists before the step it describes goes on (a SIGKILL loses nothing already
 * recorded). The sink is a file outside every Redis the scenarios fault.
 */

/** Fields of every record. */
export interface RecordBase {
  instance: string;
  pid: number;
  /** The worker's wall clock (`performance.timeOrigin + performance.now()`), possibly faked. */
  wall: number;
  /**
   * The system-wide monotonic clock (CLOCK_MONOTONIC, ms): the same in every process and never
   * faked, so times of different workers compare directly.
   */
  mono: number;
}

/** The records, by type. */
export interface RecordPayloads {
  ready: { cron: string; ttl: number };
  /** `trigger`: `'schedule'`, `'catch-up'` or `'manual'` (`ctx.trigger`). */
  start: { scheduledAt: number; fencingToken: number; durationMs: number; trigger: string };
  abort: {
    scheduledAt: number;
    fencingToken: number;
    errorName: string;
    lossReason: string | null;
    message: string;
  };
  end: { scheduledAt: number; fencingToken: number; aborted: boolean };
  lost: { scheduledAt: number | null; fencingToken: number; reason: string };
  'store-error': { scheduledAt: number | null; operation: string; message: string };
  skipped: { scheduledAt: number | null; reason: string };
  /**
   * A tick of the worker's scheduler for the job's cron expression, unlocked (recorded only with
   * `catchUp` set): the occurrence it fired for, whatever the lock then decided.
   */
  tick: { scheduledAt: number };
  /** A `missed` event: an occurrence that no instance ran (`reason`: why, when known). */
  missed: { scheduledAt: number | null; reason: string | null };
  released: { scheduledAt: number | null; fencingToken: number; released: boolean };
  /** `sentMono`: when the write was sent (the record itself is made when the answer came). */
  'fenced-write': { fencingToken: number; accepted: boolean; sentMono: number };
  'fenced-write-error': { fencingToken: number; message: string };
  memory: { heapUsed: number };
  'unhandled-rejection': { message: string };
  'uncaught-exception': { message: string };
  sigterm: Record<string, never>;
  closed: Record<string, never>;
}

export type RecordType = keyof RecordPayloads;

/** One line of a sink. */
export type SinkRecord = {
  [T in RecordType]: RecordBase & { type: T } & RecordPayloads[T];
}[RecordType];

/** A record of one type. */
export type RecordOf<T extends RecordType> = Extract<SinkRecord, { type: T }>;

/** The system-wide monotonic clock in ms (comparable across processes). */
export function monoNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Name of the one job every worker runs. */
export const FAULT_JOB = 'fault-job';

/**
 * The fenced downstream store: accepts a write only if its fencing token is not lower than the
 * highest one it accepted before. Lives on a Redis server that no scenario faults.
 * KEYS[1] highest token · KEYS[2] list of accepted writes · ARGV: token, entry · 1 = accepted
 */
export const FENCED_WRITE_LUA = `
local highest = tonumber(redis.call('GET', KEYS[1]) or '0')
local token = tonumber(ARGV[1])
if token < highest then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', 600000)
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], 600000)
return 1
`;
