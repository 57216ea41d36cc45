import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { forkTs } from './fork-ts.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from './redis.js';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test harness', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('provides a Redis server that answers PING', async () => {
    const client = newRedisClient();
    cleanups.push(() => client.quit());
    expect(await client.ping()).toBe('PONG');
    expect(process.env.CRON_LOCK_TEST_REDIS_URL).toBe(testRedisUrl());
  });

  it('gives unique key prefixes', () => {
    const a = uniquePrefix('same');
    const b = uniquePrefix('same');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^t-same-[0-9a-f]{8}$/);
  });

  it('starts extra servers on their own port and stops them by pid', async () => {
    const server: RedisServerHandle = await startRedisServer();
    cleanups.push(() => server.stop());
    expect(server.url).not.toBe(testRedisUrl());
    expect(testRedisUrl()).not.toContain(`:${server.port}`);

    const direct = new Redis(server.url, { maxRetriesPerRequest: 1 });
    expect(await direct.ping()).toBe('PONG');
    direct.disconnect();

    const pid = server.pid;
    expect(isAlive(pid)).toBe(true);
    await server.stop();
    expect(server.isRunning()).toBe(false);
    await waitFor(() => !isAlive(pid), { timeout: 5_000, message: `pid ${pid} to be gone` });
  });

  it('removes the working directory of a server it stopped, and keeps it across a restart', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    cleanups.push(async () => client.disconnect());
    const [, dir] = (await client.config('GET', 'dir')) as [string, string];
    expect(existsSync(dir)).toBe(true);

    await server.restart();
    await waitFor(async () => (await client.ping()) === 'PONG', { message: 'reconnect' });
    expect(((await client.config('GET', 'dir')) as string[])[1]).toBe(dir);
    expect(existsSync(dir)).toBe(true);

    await server.stop();
    expect(existsSync(dir)).toBe(false);
  });

  it('restarts a server on the same port with its data gone', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    cleanups.push(async () => client.disconnect());
    await client.set('k', 'v');
    const oldPid = server.pid;
    await server.restart();
    expect(server.pid).not.toBe(oldPid);
    expect(isAlive(oldPid)).toBe(false);
    await waitFor(async () => (await client.ping()) === 'PONG', { message: 'reconnect' });
    expect(await client.get('k')).toBeNull();
  });

  it('forks a TypeScript worker (decorator metadata + inherited Redis URL)', async () => {
    const child = forkTs('test/support/fixtures/ping-worker.ts');
    const [message] = (await once(child, 'message')) as [{ reply: string }];
    expect(message.reply).toBe('PONG');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });
});
