import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { forkTs } from '../support/fork-ts.js';

/** Booting the sample through the TS loader takes a few seconds on a loaded machine. */
const EXIT_TIMEOUT_MS = 45_000;

/** Runs the sample with `settings` over an environment without any store setting. */
async function runSample(settings: Record<string, string>) {
  const env: NodeJS.ProcessEnv = { ...process.env, SAMPLE_SECONDS: '1' };
  delete env.REDIS_URL;
  delete env.DATABASE_URL;
  const child = forkTs('sample/main.ts', [], { env: { ...env, ...settings }, silent: true });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timeout = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
  try {
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timeout);
  }
}

describe('npm run sample: its store settings', () => {
  // The in-memory store is chosen only when no store setting is given at all: a setting present
  // but empty (a deployment template's blank value) is a mistake, never a silent fallback.
  it.each([
    ['REDIS_URL', ''],
    ['REDIS_URL', '   '],
    ['DATABASE_URL', ''],
    ['DATABASE_URL', ' '],
  ])(
    'exits 1 naming %s when it is set but blank (%j), before starting anything',
    async (name, value) => {
      const run = await runSample({ [name]: value });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${name} is set but empty`);
      expect(run.stdout).not.toContain('mode:');
    },
  );

  it('names the Redis it cannot reach by host and port, with the reason and never the password', async () => {
    const run = await runSample({ REDIS_URL: 'redis://ops:s3cret-pw@127.0.0.1:1/0' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Cannot reach Redis at 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
    expect(run.stderr + run.stdout).not.toContain('s3cret-pw');
  });
});
