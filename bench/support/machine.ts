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
 * How busy the machine was, from the 1-minute load average before and after the run against
 * the number of cores. The benchmark itself keeps about one core busy (client and Redis server
 * take turns), so the load before the run and anything above 1 during it is other work. When the
 * fleet's worker processes ran (the last section), they load the machine themselves: the load
 * read just before they started stands for the rest of the run, and the one after is told apart.
 */
export function describeLoad(
  loadBefore: number[],
  loadAfter: number[],
  cores: number,
  loadBeforeWorkers: number[] | null = null,
): string {
  const before = loadBefore[0] ?? 0;
  const after = loadAfter[0] ?? 0;
  const during = loadBeforeWorkers === null ? after : (loadBeforeWorkers[0] ?? 0);
  const peak = Math.max(before, during);
  const numbers =
    loadBeforeWorkers === null
      ? `1-minute load average ${before.toFixed(2)} before the run and ${after.toFixed(2)} ` +
        `after it, on ${cores} cores; the benchmark alone accounts for about 1`
      : `1-minute load average ${before.toFixed(2)} before the run, ${during.toFixed(2)} before ` +
        `the fleet's worker processes started and ${after.toFixed(2)} after them, on ${cores} ` +
        'cores; the benchmark alone accounts for about 1, its worker processes for several ' +
        'more while they run';
  if (before <= 0.3 * cores && peak <= 1 + 0.3 * cores) {
    return `The machine was quiet (${numbers}).`;
  }
  const caveat =
    'Absolute times and spreads are inflated by that load; the interleaved ratios, the CPU ' +
    'columns and the Redis µs columns are the comparable figures.';
  if (before <= 0.75 * cores && peak <= 1 + 0.75 * cores) {
    return `The machine was lightly loaded by other work (${numbers}). ${caveat}`;
  }
  return `The machine was loaded by other work during this run (${numbers}). ${caveat}`;
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
