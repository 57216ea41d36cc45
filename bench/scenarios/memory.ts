import { MemoryLockStore, type CronLockModuleOptions } from 'nestjs-cron-lock';
import { startLockApp } from '../support/apps.js';
import type { BenchConfig, Section, Target } from '../support/section.js';
import { formatNumber } from '../support/stats.js';

const HEAP_BUDGET_BYTES = 5 * 1024 * 1024;
const NAMES = 10;

async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    throw new Error('memory scenario needs node --expose-gc (npm run bench passes it)');
  }
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

/** Active handles and requests by type, e.g. `TCPSocketWrap×2, Timeout×1`. */
function resources(): string {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) {
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, count]) => `${type}×${count}`)
    .join(', ');
}

/** Waits until the handle list stops changing (sockets closed by earlier scenarios linger). */
async function stableResources(): Promise<string> {
  let previous = resources();
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const current = resources();
    if (current === previous && !current.includes('TCPSocketWrap')) {
      return current;
    }
    previous = current;
  }
  return previous;
}

/** Polls briefly: a closed socket leaves the handle list a tick or two later. */
async function settledResources(expected: string): Promise<string> {
  let current = resources();
  for (let i = 0; i < 50 && current !== expected; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    current = resources();
  }
  return current;
}

interface LeakResult {
  store: string;
  runs: number;
  seconds: number;
  heapStart: number;
  heapEnd: number;
  resourcesStart: string;
  resourcesEnd: string;
  resourcesBeforeApp: string;
  resourcesAfterClose: string;
}

async function leakRun(
  store: string,
  options: CronLockModuleOptions,
  runs: number,
): Promise<LeakResult> {
  const resourcesBeforeApp = await stableResources();
  const { locks, close } = await startLockApp(options);
  let occurrence = Date.UTC(2025, 0, 1);
  const runOnce = async (i: number) => {
    occurrence += 1_000;
    const result = await locks.run(
      `mem-${i % NAMES}`,
      { ttl: 30_000, scheduledAt: occurrence },
      async () => i,
    );
    if (!result.ran) {
      throw new Error(`memory: run ${i} did not run (${result.reason})`);
    }
  };
  for (let i = 0; i < 2_000; i++) {
    await runOnce(i);
  }
  const heapStart = await heapAfterGc();
  const resourcesStart = resources();
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    await runOnce(i);
  }
  const seconds = (performance.now() - started) / 1000;
  const heapEnd = await heapAfterGc();
  const resourcesEnd = await settledResources(resourcesStart);
  await close();
  const resourcesAfterClose = await settledResources(resourcesBeforeApp);
  return {
    store,
    runs,
    seconds,
    heapStart,
    heapEnd,
    resourcesStart,
    resourcesEnd,
    resourcesBeforeApp,
    resourcesAfterClose,
  };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/**
 * Scenario 5: many sequential runs in one process; the heap after GC must come back to within
 * 5 MB of where it started, and the active handles to their baseline.
 */
export async function memoryScenario(config: BenchConfig): Promise<Section> {
  const runs = config.quick ? 5_000 : 100_000;
  const results: LeakResult[] = [];
  results.push(await leakRun('MemoryLockStore', { store: new MemoryLockStore() }, runs));
  config.progress('memory: MemoryLockStore done');
  results.push(
    await leakRun('RedisLockStore', { redis: config.redisUrl, keyPrefix: 'bench-memory' }, runs),
  );
  config.progress('memory: RedisLockStore done');

  const targets: Target[] = [];
  for (const result of results) {
    const growth = result.heapEnd - result.heapStart;
    targets.push(
      {
        label: `${result.store}: heap after GC within 5 MB of the start`,
        measured: `${growth >= 0 ? '+' : ''}${mb(growth)}`,
        met: growth <= HEAP_BUDGET_BYTES,
      },
      {
        label: `${result.store}: active handles back to baseline (after the runs, and after close)`,
        measured:
          result.resourcesEnd === result.resourcesStart &&
          result.resourcesAfterClose === result.resourcesBeforeApp
            ? 'same'
            : `runs: [${result.resourcesStart}] -> [${result.resourcesEnd}]; close: ` +
              `[${result.resourcesBeforeApp}] -> [${result.resourcesAfterClose}]`,
        met:
          result.resourcesEnd === result.resourcesStart &&
          result.resourcesAfterClose === result.resourcesBeforeApp,
      },
    );
  }
  return {
    title: '5. Memory and leaks',
    method:
      `${formatNumber(runs)} sequential \`run()\` calls (${NAMES} job names, a new occurrence ` +
      'each) in one process per store, after 2,000 warm-up runs. Heap is `heapUsed` after ' +
      'forced GC (node --expose-gc); handles are `process.getActiveResourcesInfo()` by type, ' +
      'compared after the runs (app still open) and after `app.close()` (against before the app).',
    headers: ['Store', 'Runs', 'Runs/s', 'Heap start', 'Heap end', 'Growth', 'Handles (open app)'],
    rows: results.map((result) => [
      result.store,
      formatNumber(result.runs),
      formatNumber(result.runs / result.seconds),
      mb(result.heapStart),
      mb(result.heapEnd),
      mb(result.heapEnd - result.heapStart),
      result.resourcesEnd || '(none)',
    ]),
    targets,
  };
}
