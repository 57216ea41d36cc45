import { readFileSync } from 'node:fs';
import os from 'node:os';

const repoRoot = new URL('../../', import.meta.url);

function packageVersion(name: string): string {
  try {
    const manifest = JSON.parse(
      readFileSync(new URL(`node_modules/${name}/package.json`, repoRoot), 'utf8'),
    ) as { version?: string };
    return manifest.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface Machine {
  rows: Array<[string, string]>;
  /** A sentence on how loaded the machine was, for the top of the report. */
  loadRemark: string;
}

/**
 * How busy the machine was, from the 1-minute load average against the number of cores. Only the
 * reading before the run is other work for sure: later readings count the benchmark's own
 * processes and threads too (its client, the Redis and PostgreSQL servers it starts, V8's
 * collector threads and, in the last section, the fleet's worker processes), so they are
 * reported beside it, not judged.
 */
export function describeLoad(
  loadBefore: number[],
  loadAfter: number[],
  cores: number,
  loadBeforeWorkers: number[] | null = null,
): string {
  const before = loadBefore[0] ?? 0;
  const after = loadAfter[0] ?? 0;
  const numbers =
    loadBeforeWorkers === null
      ? `1-minute load average ${before.toFixed(2)} before the run and ${after.toFixed(2)} ` +
        `after it, on ${cores} cores`
      : `1-minute load average ${before.toFixed(2)} before the run, ` +
        `${(loadBeforeWorkers[0] ?? 0).toFixed(2)} before the fleet's worker processes started ` +
        `and ${after.toFixed(2)} after them, on ${cores} cores`;
  const own =
    'the readings during and after the run include the benchmark itself (its client, the ' +
    'servers it starts and their threads' +
    (loadBeforeWorkers === null ? ')' : ', then its worker processes)');
  if (before <= 0.3 * cores) {
    return `The machine was quiet when the run started (${numbers}; ${own}).`;
  }
  const caveat =
    'Absolute times and spreads are inflated by that load; the interleaved ratios, the CPU ' +
    'columns and the Redis µs columns are the comparable figures.';
  const how = before <= 0.75 * cores ? 'lightly loaded' : 'loaded';
  return `The machine was ${how} by other work when the run started (${numbers}; ${own}). ${caveat}`;
}

export function describeMachine(
  redisVersion: string,
  loadBefore: number[],
  loadAfter: number[],
  loadBeforeWorkers: number[] | null = null,
): Machine {
  const cpus = os.cpus();
  const load = (values: number[]) => values.map((value) => value.toFixed(2)).join(' / ');
  return {
    rows: [
      ['OS', `${os.type()} ${os.release()} (${os.arch()})`],
      ['CPU', `${cpus[0]?.model.trim() ?? 'unknown'} × ${cpus.length}`],
      ['Memory', `${(os.totalmem() / 1024 ** 3).toFixed(1)} GB`],
      ['Node.js', process.version],
      ['Redis', `${redisVersion} (local redis-server started by the benchmark, loopback TCP)`],
      ['ioredis', packageVersion('ioredis')],
      ['@sesamecare-oss/redlock', packageVersion('@sesamecare-oss/redlock')],
      ['redis-semaphore', packageVersion('redis-semaphore')],
      loadBeforeWorkers === null
        ? ['Load average (1/5/15 min) before → after', `${load(loadBefore)} → ${load(loadAfter)}`]
        : [
            'Load average (1/5/15 min) before → before the worker processes → after',
            `${load(loadBefore)} → ${load(loadBeforeWorkers)} → ${load(loadAfter)}`,
          ],
    ],
    loadRemark: describeLoad(loadBefore, loadAfter, cpus.length, loadBeforeWorkers),
  };
}
