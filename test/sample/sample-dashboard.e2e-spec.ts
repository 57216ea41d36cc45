import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { forkTs } from '../support/fork-ts.js';
import { waitFor } from '../support/redis.js';

const DASHBOARD_LINE =
  /^Dashboard \(read-only, served by instance-a\): (http:\/\/127\.0\.0\.1:\d+\/cron-lock)$/m;

describe('npm run sample: the dashboard', () => {
  let child: ChildProcess | undefined;

  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
    child = undefined;
  });

  it('prints the dashboard URL, which lists the sample jobs while it runs', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, SAMPLE_SECONDS: '8' };
    delete env.REDIS_URL;
    delete env.DATABASE_URL;
    child = forkTs('sample/main.ts', [], { env, silent: true });
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const exited = once(child, 'exit');

    const url = (await waitFor(() => DASHBOARD_LINE.exec(stdout)?.[1], { timeout: 45_000 }))!;
    const html = await waitFor(
      async () => {
        const text = await (await fetch(url)).text();
        return text.includes('<th scope="row">quick</th>') ? text : undefined;
      },
      { timeout: 20_000, message: 'the sample dashboard lists the quick job' },
    );
    expect(html).toContain('<th scope="row">long</th>');
    const [code] = (await exited) as [number | null];
    expect(code, stdout).toBe(0);
  });
});
