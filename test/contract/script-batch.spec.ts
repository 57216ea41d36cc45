import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineScript, runScript } from '../../lib/stores/redis/redis-script.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { uniquePrefix } from '../support/redis.js';

// Echoes its key and argument, or fails when the argument says so.
const ECHO = defineScript(`
if ARGV[1] == 'fail' then
  return redis.error_reply('ERR asked to fail')
end
redis.call('SET', KEYS[1], ARGV[1])
return KEYS[1] .. '=' .. ARGV[1]
`);

/**
 * Counts the writes the client's socket makes to the kernel: `_write` for one buffer, `_writev`
 * for the buffers gathered while it was corked (one system call either way).
 */
function countWrites(client: Redis): { readonly count: number } {
  type Flush = (...args: unknown[]) => void;
  const socket = (client as unknown as { stream: { _write: Flush; _writev: Flush } }).stream;
  const counter = { count: 0 };
  for (const method of ['_write', '_writev'] as const) {
    const original = socket[method].bind(socket);
    socket[method] = (...args: unknown[]) => {
      counter.count += 1;
      original(...args);
    };
  }
  return counter;
}

describe('script calls made in one burst (one socket write, one reply each)', () => {
  // A server of its own: the SCRIPT FLUSH below would send every other test file's next script
  // call down the NOSCRIPT path.
  let server: RedisServerHandle;
  let client: Redis;
  const prefix = uniquePrefix('batch');

  beforeAll(async () => {
    server = await startRedisServer();
    client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    await client.ping();
    await client.script('LOAD', ECHO.source);
  });

  afterAll(async () => {
    await client.quit();
    await server.stop();
  });

  it('gives each call of a burst its own reply and error, in order, in two writes', async () => {
    const writes = countWrites(client);
    const calls = Array.from({ length: 200 }, (_, i) =>
      runScript(client, ECHO, [`${prefix}:${i}`], [i === 7 ? 'fail' : `v${i}`]).then(
        (value) => ({ value }),
        (error: Error) => ({ error: error.message }),
      ),
    );
    const results = await Promise.all(calls);
    expect(results[7]).toEqual({ error: expect.stringContaining('asked to fail') });
    results.forEach((result, i) => {
      if (i !== 7) {
        expect(result).toEqual({ value: `${prefix}:${i}=v${i}` });
      }
    });
    // The first call goes out at once, the 199 queued behind it together.
    expect(writes.count).toBe(2);
    expect(await client.get(`${prefix}:199`)).toBe('v199');
  });

  it('keeps every reply with its call when the application uses the client in the same turn', async () => {
    // A client passed in is shared: its own commands may be sent between the burst's calls.
    await client.set(`${prefix}:own`, 'own value');
    const pending: Array<Promise<unknown>> = [];
    for (let i = 0; i < 50; i++) {
      pending.push(runScript(client, ECHO, [`${prefix}:m${i}`], [`m${i}`]));
      if (i % 10 === 5) {
        pending.push(client.get(`${prefix}:own`));
      }
    }
    const replies = await Promise.all(pending);
    let call = 0;
    replies.forEach((reply, index) => {
      if (index % 11 === 6) {
        expect(reply).toBe('own value');
      } else {
        expect(reply).toBe(`${prefix}:m${call}=m${call}`);
        call += 1;
      }
    });
    expect(call).toBe(50);
  });

  it('sends sequential calls at once, one write each', async () => {
    const writes = countWrites(client);
    for (let i = 0; i < 5; i++) {
      expect(await runScript(client, ECHO, [`${prefix}:seq`], [`s${i}`])).toBe(
        `${prefix}:seq=s${i}`,
      );
    }
    expect(writes.count).toBe(5);
  });

  it('falls back to EVAL for every call of a burst after SCRIPT FLUSH', async () => {
    await client.script('FLUSH');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => runScript(client, ECHO, [`${prefix}:f${i}`], [`f${i}`])),
    );
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => `${prefix}:f${i}=f${i}`));
  });
});
