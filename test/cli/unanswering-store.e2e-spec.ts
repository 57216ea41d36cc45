// `nestjs-cron-lock` against a store that accepts connections but stops answering: every command
// ends within a bounded time, exit 1, with one line that names the store and holds no secret.
import { afterEach, describe, expect, it } from 'vitest';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';
import { startSilentProxy, type SilentProxy } from './silent-proxy.js';

/**
 * Far below the runner's kill (45 s), far above what the command needs (5 s per step it waits
 * on, plus the loader's start on a loaded machine).
 */
const BOUNDED_MS = 30_000;

describe('nestjs-cron-lock against a store that stops answering', () => {
  const proxies: SilentProxy[] = [];

  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });

  async function proxyTo(url: string, forwarded: number): Promise<string> {
    const target = new URL(url);
    const proxy = await startSilentProxy(Number(target.port), forwarded);
    proxies.push(proxy);
    target.port = String(proxy.port);
    return target.toString();
  }

  it('trigger on Redis ends with exit 1 and one line when the channel subscription gets no answer', async () => {
    // The command's own connection is forwarded; the trigger channel's (the second) never is.
    const url = await proxyTo(testRedisUrl(), 1);
    const started = performance.now();
    const run = await runCli(
      ['trigger', 'cli-yearly', '--prefix', uniquePrefix('cli-silent'), '--yes'],
      {
        env: { REDIS_URL: url },
      },
    );
    const took = performance.now() - started;

    expect(run.code).toBe(1);
    expect(took).toBeLessThan(BOUNDED_MS);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^nestjs-cron-lock: .*Redis at redis:\/\/127\.0\.0\.1:\d+.*no answer within 5s/,
    );
    expect(lines[0]).toContain('no request was sent');
  });
});
