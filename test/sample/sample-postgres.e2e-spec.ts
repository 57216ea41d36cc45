import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { forkTs } from '../support/fork-ts.js';
import { TEST_POSTGRES_PASSWORD } from '../support/postgres-server.js';
import { testPostgresUrl } from '../support/postgres.js';

/** Booting three Nest apps through the TS loader takes a few seconds on a loaded machine. */
const EXIT_TIMEOUT_MS = 60_000;

/** `12:00:03  quick  ran on instance-b (fence 42)  skipped: a (tick-done), c (tick-done)` */
const QUICK_TICK = /^(\d\d:\d\d:\d\d) {2}quick {2}(?!↳)(.*)$/;

describe('npm run sample (PostgreSQL mode)', () => {
  it('runs on the database of DATABASE_URL, each quick occurrence on one instance, and never shows the password', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SAMPLE_SECONDS: '4',
      DATABASE_URL: testPostgresUrl(),
    };
    delete env.REDIS_URL;
    const child = forkTs('sample/main.ts', [], { env, silent: true });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timeout = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timeout);

    expect(code, stdout + stderr).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(
      /^PostgreSQL mode: three Nest apps .* lock in the database at 127\.0\.0\.1:\d+\/postgres/,
    );
    const ticks = lines.flatMap((line) => QUICK_TICK.exec(line)?.slice(2, 3) ?? []);
    expect(ticks.length, stdout).toBeGreaterThanOrEqual(2);
    for (const outcome of ticks) {
      expect(outcome).toMatch(/^ran on instance-[abc] \(fence \d+\)/);
    }
    expect(stdout + stderr).not.toContain(TEST_POSTGRES_PASSWORD);
  });
});
