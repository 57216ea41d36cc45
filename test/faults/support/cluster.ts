import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forkTs } from '../../support/fork-ts.js';
import { waitFor } from '../../support/redis.js';
import { monoNow, type RecordOf, type RecordType, type SinkRecord } from './records.js';

const WORKER = 'test/faults/fixtures/worker.ts';

/**
 * How long a forked worker may take to boot (write its `ready` record). No scenario checks how
 * fast a worker boots: this bound only ends the wait for one that hangs (one that exits fails at
 * once). Each worker transpiles the package and Nest as it starts; on two cores at a load of 70,
 * a worker, or a fleet of them started together, took longer than a minute. A scenario that waits
 * with it adds it to its time limit for each boot it waits for in turn.
 */
export const BOOT_TIMEOUT_MS = 180_000;

/** Settings of one forked worker (see the environment list in fixtures/worker.ts). */
export interface WorkerOptions {
  /** Instance id, e.g. `w1`. */
  instance: string;
  redisUrl: string;
  keyPrefix: string;
  cron?: string;
  ttlMs: number;
  jobMs: number;
  jobJitterMs?: number;
  seed: number;
  honorSignal?: boolean;
  shutdownTimeoutMs?: number;
  memoryEveryMs?: number;
  fence?: { url: string; key: string; everyMs?: number };
  /** The job's `catchUp` option (unset: absent). */
  catchUp?: 'latest' | 'all';
  /** The job's `catchUpWindow` option (unset: absent). */
  catchUpWindow?: string;
  /** The job's `overlap` option (unset: absent). */
  overlap?: 'skip' | 'queue' | 'replace';
  /** The module's `historySize` option (unset: the default). */
  historySize?: number;
  /** Extra environment (e.g. LD_PRELOAD + FAKETIME). */
  env?: Record<string, string>;
  /** Extra Node flags (e.g. `--expose-gc`). */
  execArgv?: string[];
}

/** How a worker process ended. */
export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Monotonic time at which the parent saw it exit. */
  mono: number;
}

/** One forked worker process. */
export class FaultWorker {
  readonly instance: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<WorkerExit>;
  /** Set once the process exited. */
  exit: WorkerExit | null = null;
  /** Monotonic time of the SIGKILL sent by the test, if any. */
  killedAt: number | null = null;
  private output = '';

  constructor(options: WorkerOptions, sinkFile: string) {
    this.instance = options.instance;
    const env: Record<string, string | undefined> = {
      ...process.env,
      FAULT_INSTANCE: options.instance,
      FAULT_SINK_FILE: sinkFile,
      FAULT_REDIS_URL: options.redisUrl,
      FAULT_KEY_PREFIX: options.keyPrefix,
      FAULT_CRON: options.cron ?? '* * * * * *',
      FAULT_TTL_MS: String(options.ttlMs),
      FAULT_JOB_MS: String(options.jobMs),
      FAULT_JOB_JITTER_MS: String(options.jobJitterMs ?? 0),
      FAULT_SEED: String(options.seed),
      FAULT_HONOR_SIGNAL: options.honorSignal === false ? '0' : '1',
      FAULT_SHUTDOWN_TIMEOUT_MS: String(options.shutdownTimeoutMs ?? 10_000),
      FAULT_MEMORY_EVERY_MS: String(options.memoryEveryMs ?? 0),
      FAULT_FENCE_URL: options.fence?.url,
      FAULT_FENCE_KEY: options.fence?.key,
      FAULT_FENCE_EVERY_MS: String(options.fence?.everyMs ?? 100),
      FAULT_CATCH_UP: options.catchUp,
      FAULT_CATCH_UP_WINDOW: options.catchUpWindow,
      FAULT_OVERLAP: options.overlap,
      FAULT_HISTORY_SIZE:
        options.historySize === undefined ? undefined : String(options.historySize),
      // Nest colours its log lines only on a TTY; keep the captured output plain.
      NO_COLOR: '1',
      ...options.env,
    };
    // forkTs opens an IPC channel; the worker exits when it closes (the test runner died).
    this.child = forkTs(WORKER, [], {
      env: env as NodeJS.ProcessEnv,
      silent: true,
      execArgv: options.execArgv ?? [],
    });
    const collect = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
      if (this.output.length > 40_000) this.output = this.output.slice(-40_000);
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.child.on('error', (error) => collect(Buffer.from(`[spawn error] ${error.message}\n`)));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal, mono: monoNow() };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  /** The last 40 kB of the worker's stdout and stderr. */
  get log(): string {
    return this.output;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** SIGKILL, remembering when (a killed run has no `end` record; it ended here). */
  kill(): void {
    this.killedAt = monoNow();
    this.signal('SIGKILL');
  }
}

/**
 * The processes of one scenario and their sinks (one JSON-lines file per worker, in a folder
 * under the OS temp directory).
 */
export class FaultCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'cron-lock-faults-'));
  readonly workers: FaultWorker[] = [];

  spawn(options: WorkerOptions): FaultWorker {
    const worker = new FaultWorker(options, join(this.dir, `${options.instance}.jsonl`));
    this.workers.push(worker);
    return worker;
  }

  worker(instance: string): FaultWorker {
    const found = this.workers.find((w) => w.instance === instance);
    if (!found) throw new Error(`no worker ${instance}`);
    return found;
  }

  /** Every record of every worker, in monotonic-time order. */
  records(): SinkRecord[] {
    const all: SinkRecord[] = [];
    if (!existsSync(this.dir)) return all;
    for (const file of readdirSync(this.dir)) {
      if (!file.endsWith('.jsonl')) continue;
      const text = readFileSync(join(this.dir, file), 'utf8');
      for (const line of text.split('\n')) {
        // A worker killed mid-write may leave a partial last line.
        if (!line.trim()) continue;
        try {
          all.push(JSON.parse(line) as SinkRecord);
        } catch {
          // ignore the torn line
        }
      }
    }
    return all.sort((a, b) => a.mono - b.mono);
  }

  /** Records of one type, in monotonic-time order. */
  recordsOf<T extends RecordType>(type: T, records = this.records()): RecordOf<T>[] {
    return records.filter((r): r is RecordOf<T> => r.type === type);
  }

  /**
   * Waits until every worker spawned so far (or each of `workers`) has booted (written its
   * `ready` record); fails at once, with its log, if one exits first.
   */
  async ready(timeout = 60_000, workers: readonly FaultWorker[] = this.workers): Promise<number> {
    const deadline = monoNow() + timeout;
    for (;;) {
      const dead = workers.find((w) => !w.alive);
      if (dead) {
        throw new Error(
          `worker ${dead.instance} exited during boot (${JSON.stringify(dead.exit)}):\n` +
            dead.log.slice(-3_000),
        );
      }
      const ready = new Set(this.recordsOf('ready').map((r) => r.instance));
      if (workers.every((w) => ready.has(w.instance))) return monoNow();
      if (monoNow() > deadline) {
        throw new Error(
          `only ${workers.filter((w) => ready.has(w.instance)).length} of ${workers.length} workers booted in ${timeout} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Waits for the first record matching `predicate` (polling the sinks) and returns it. */
  async waitForRecord<T extends RecordType>(
    type: T,
    predicate: (record: RecordOf<T>) => boolean,
    options: { timeout: number; message: string },
  ): Promise<RecordOf<T>> {
    return waitFor(() => this.recordsOf(type).find(predicate), { ...options, interval: 25 });
  }

  /** A summary for failure output: tails of each worker's log. */
  describe(): string {
    return this.workers
      .map(
        (w) =>
          `--- ${w.instance} (pid ${w.pid}, exit ${JSON.stringify(w.exit)}) ---\n${w.log.slice(-4_000)}`,
      )
      .join('\n');
  }

  /** Ends every worker still running (SIGKILL: the scenario's checks are done). */
  async stop(): Promise<void> {
    for (const worker of this.workers) worker.signal('SIGKILL');
    await Promise.all(this.workers.map((w) => w.exited));
  }

  /** Removes the sink folder (kept when `keep` is set, to inspect a failure). */
  cleanup(keep: boolean): void {
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
