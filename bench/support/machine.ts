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
}

export function describeMachine(
  redisVersion: string,
  loadBefore: number[],
  loadAfter: number[],
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
      ['Load average (1/5/15 min) before → after', `${load(loadBefore)} → ${load(loadAfter)}`],
    ],
  };
}
