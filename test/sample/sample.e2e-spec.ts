import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { forkTs } from '../support/fork-ts.js';

/** Booting three Nest apps through the TS loader takes a few seconds on a loaded machine. */
const EXIT_TIMEOUT_MS = 45_000;
const INSTANCES = ['instance-a', 'instance-b', 'instance-c'];

/** `12:00:03  quick  ran on instance-b (fence 42)  skipped: a (tick-done), c (tick-done)` */
const QUICK_TICK = /^(\d\d:\d\d:\d\d) {2}quick {2}(?!↳)(.*)$/;
const RAN_ONCE = /^ran on (instance-[abc]) \(fence (\d+)\) {2}skipped: (.+)$/;

interface SampleRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

describe('npm run sample (memory mode)', () => {
  let child: ChildProcess | undefined;

  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
    child = undefined;
  });

  async function runSample(seconds: number): Promise<SampleRun> {
    const env: NodeJS.ProcessEnv = { ...process.env, SAMPLE_SECONDS: String(seconds) };
    delete env.REDIS_URL;
    child = forkTs('sample/main.ts', [], { env, silent: true });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timeout = setTimeout(() => child?.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    try {
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      return { code, signal, stdout, stderr };
    } finally {
      clearTimeout(timeout);
    }
  }

  it('exits 0 after SAMPLE_SECONDS and reports each quick occurrence ran on exactly one instance', async () => {
    const run = await runSample(4);
    expect(run.signal, run.stdout + run.stderr).toBeNull();
    expect(run.code, run.stdout + run.stderr).toBe(0);

    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^Memory mode: three Nest apps .* share one MemoryLockStore/);

    const ticks = lines.flatMap((line) => {
      const match = QUICK_TICK.exec(line);
      return match ? [{ time: match[1], outcome: match[2] }] : [];
    });
    // 4 s of a job that fires every second: at least 3 occurrences even on a slow machine.
    expect(ticks.length, run.stdout).toBeGreaterThanOrEqual(3);
    expect(new Set(ticks.map((tick) => tick.time)).size).toBe(ticks.length);

    const fences: number[] = [];
    for (const tick of ticks) {
      const ran = RAN_ONCE.exec(tick.outcome);
      expect(
        ran,
        `${tick.time} should have run on exactly one instance: ${tick.outcome}`,
      ).not.toBeNull();
      const [, runner, fence, skipped] = ran!;
      const others = INSTANCES.filter((instance) => instance !== runner).map((instance) =>
        instance.replace('instance-', ''),
      );
      // The two other instances ticked too and were turned away by the lock.
      expect(skipped).toMatch(
        new RegExp(`^${others[0]} \\((tick-done|held)\\), ${others[1]} \\((tick-done|held)\\)$`),
      );
      fences.push(Number(fence));
    }
    // Fencing tokens of successive occurrences only ever grow.
    expect(fences).toEqual([...fences].sort((a, b) => a - b));
    expect(new Set(fences).size).toBe(fences.length);

    expect(run.stdout).toMatch(
      new RegExp(`quick +${ticks.length} occurrences: ${ticks.length} ran on exactly one instance`),
    );
    expect(run.stdout).not.toMatch(/more than once|SEVERAL|ran AGAIN/);
  });
});
