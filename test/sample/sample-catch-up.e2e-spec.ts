import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { forkTs } from '../support/fork-ts.js';

/** Three apps, a stop, a wait for an occurrence, and one more boot, on a loaded machine. */
const EXIT_TIMEOUT_MS = 60_000;

/** `Every instance is stopped. Waiting for the digest of 12:00:09 to pass with no instance up…` */
const WAITING = /^Every instance is stopped\. Waiting for the digest of (\d\d:\d\d:\d\d) /m;
/** `12:00:09  digest  caught up on instance-a (ctx.trigger 'catch-up', fence 7): …` */
const CAUGHT_UP =
  /^(\d\d:\d\d:\d\d) {2}digest {2}caught up on (instance-a) \(ctx\.trigger 'catch-up', fence \d+\)/gm;

const seconds = (time: string): number =>
  time.split(':').reduce((total, part) => total * 60 + Number(part), 0);

describe('npm run sample: the digest caught up after every instance stopped (memory mode)', () => {
  it('runs the digest occurrence missed while the fleet was down once, on the restarted instance, as a catch-up', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, SAMPLE_SECONDS: '4' };
    delete env.REDIS_URL;
    delete env.DATABASE_URL;
    const child = forkTs('sample/main.ts', [], { env, silent: true });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timeout = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timeout);

    expect(code, stdout + stderr).toBe(0);
    const waiting = WAITING.exec(stdout);
    expect(waiting, stdout).not.toBeNull();
    const catchUps = [...stdout.matchAll(CAUGHT_UP)];
    // catchUp: 'latest': one run, for the latest occurrence missed (the one waited for, or a
    // later one if the restart took longer than a period).
    expect(catchUps, stdout).toHaveLength(1);
    expect(seconds(catchUps[0][1])).toBeGreaterThanOrEqual(seconds(waiting![1]));
    expect(stdout).not.toMatch(/No catch-up of digest/);
  });
});
