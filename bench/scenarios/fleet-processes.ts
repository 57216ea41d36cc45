import type { ChildProcess } from 'node:child_process';
import { forkTs } from '../../test/support/fork-ts.js';
import type { ContenderKind } from './fleet-members.js';

/** What the parent tells a worker. */
export type ParentMessage =
  | { type: 'prepare' }
  | { type: 'go'; kind: ContenderKind; jobs: number; round: number }
  | { type: 'close' };

/** What a worker tells the parent. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'prepared' }
  | { type: 'settled'; runs: number[]; roundTrips: number; cpuMs: number }
  | { type: 'failed'; message: string };

/** One tick of one contender, the whole fleet's figures. */
export interface TickOutcome {
  /** From the first attempt until the last one settled. */
  settledMs: number;
  /** Runs per job, summed over every instance of the fleet. */
  runs: Uint32Array;
  roundTrips: number;
  /** CPU time of the process(es) playing the fleet. */
  clientCpuMs: number;
}

const WORKER = 'bench/scenarios/fleet-worker.ts';
/** Booting 2 × `instances` clients and Nest apps on a loaded machine; a worker stuck longer is broken. */
const READY_TIMEOUT_MS = 180_000;

/** One forked worker and the messages it sent that nobody has read yet. */
class Worker {
  private readonly inbox: WorkerMessage[] = [];
  private waiter: ((message: WorkerMessage) => void) | null = null;
  private gone: Error | null = null;

  constructor(
    readonly child: ChildProcess,
    private readonly index: number,
  ) {
    child.on('message', (message: WorkerMessage) => {
      if (this.waiter) {
        const waiter = this.waiter;
        this.waiter = null;
        waiter(message);
      } else {
        this.inbox.push(message);
      }
    });
    child.on('exit', (code, signal) => {
      this.gone = new Error(
        `fleet scale: worker ${index}: exited (${signal ?? `code ${code}`}) before it finished`,
      );
      this.waiter?.({ type: 'failed', message: `exited (${signal ?? `code ${code}`})` });
      this.waiter = null;
    });
  }

  send(message: ParentMessage): void {
    if (this.gone) {
      throw this.gone;
    }
    this.child.send(message);
  }

  /** The next message, which must be of type `type`; throws on anything else or a timeout. */
  async expect<T extends WorkerMessage['type']>(
    type: T,
    timeoutMs = 0,
  ): Promise<Extract<WorkerMessage, { type: T }>> {
    const message = await this.next(timeoutMs);
    if (message.type === 'failed') {
      throw new Error(`fleet scale: worker ${this.index}: ${message.message}`);
    }
    if (message.type !== type) {
      throw new Error(`fleet scale: worker ${this.index} sent ${message.type} instead of ${type}`);
    }
    return message as Extract<WorkerMessage, { type: T }>;
  }

  private next(timeoutMs: number): Promise<WorkerMessage> {
    const queued = this.inbox.shift();
    if (queued) {
      return Promise.resolve(queued);
    }
    if (this.gone) {
      return Promise.reject(this.gone);
    }
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.waiter = null;
              reject(new Error(`fleet scale: worker ${this.index} silent for ${timeoutMs} ms`));
            }, timeoutMs)
          : undefined;
      this.waiter = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
    });
  }
}

/**
 * The fleet played by several OS processes, each with `instancesPerProcess` instances of both
 * contenders, against one Redis server: closer to a real fleet than one process, whose single
 * event loop and heap carry every instance's attempts at once.
 */
export class FleetProcesses {
  private constructor(private readonly workers: Worker[]) {}

  static async start(
    url: string,
    processes: number,
    instancesPerProcess: number,
  ): Promise<FleetProcesses> {
    const workers = Array.from(
      { length: processes },
      (_, index) =>
        new Worker(
          forkTs(WORKER, [url, String(instancesPerProcess)], { execArgv: ['--expose-gc'] }),
          index,
        ),
    );
    const pool = new FleetProcesses(workers);
    try {
      await Promise.all(workers.map((worker) => worker.expect('ready', READY_TIMEOUT_MS)));
    } catch (error) {
      pool.kill();
      throw error;
    }
    return pool;
  }

  /**
   * One tick: every worker collects its garbage and reports back, then all get `go` at once
   * and fire their attempts; settled when the last worker's attempts all returned.
   */
  async tick(kind: ContenderKind, jobs: number, round: number): Promise<TickOutcome> {
    this.broadcast({ type: 'prepare' });
    await Promise.all(this.workers.map((worker) => worker.expect('prepared')));
    const started = performance.now();
    this.broadcast({ type: 'go', kind, jobs, round });
    const reports = await Promise.all(
      this.workers.map(async (worker) => {
        const report = await worker.expect('settled');
        return { report, at: performance.now() };
      }),
    );
    const runs = new Uint32Array(jobs);
    let roundTrips = 0;
    let clientCpuMs = 0;
    for (const { report } of reports) {
      report.runs.forEach((count, job) => {
        runs[job] += count;
      });
      roundTrips += report.roundTrips;
      clientCpuMs += report.cpuMs;
    }
    return {
      settledMs: Math.max(...reports.map(({ at }) => at)) - started,
      runs,
      roundTrips,
      clientCpuMs,
    };
  }

  async close(): Promise<void> {
    const exits = this.workers.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
          }, 30_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    );
    for (const worker of this.workers) {
      try {
        worker.send({ type: 'close' });
      } catch {
        // Already gone: its exit resolves at once.
      }
    }
    await Promise.all(exits);
  }

  private broadcast(message: ParentMessage): void {
    for (const worker of this.workers) {
      worker.send(message);
    }
  }

  private kill(): void {
    for (const { child } of this.workers) {
      child.kill('SIGKILL');
    }
  }
}
