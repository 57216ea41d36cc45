import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { Command, Redis, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeadlineCommand } from '../../lib/stores/redis/ioredis/command-deadline.js';
import { defineScript, runScript } from '../../lib/stores/redis/redis-script.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { testRedisUrl } from '../support/redis.js';

// Returns its argument; the reply shows which call it answers.
const ECHO = defineScript(`return ARGV[1]`);

/**
 * A client that fails fast (no retries, no offline queue) with `options`, connected, ECHO loaded;
 * added to `clients` for the suite to close.
 */
async function connectWithEcho(
  url: string,
  options: RedisOptions,
  clients: Redis[],
): Promise<Redis> {
  const client = new Redis(url, {
    ...options,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  clients.push(client);
  await client.connect();
  await client.script('LOAD', ECHO.source);
  return client;
}

const hold = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Settled = { value: unknown; at: number } | { error: string; at: number };

/** A script call, with when it settled (ms after `since`). */
function call(client: Redis, arg: string, since: number): Promise<Settled> {
  return runScript(client, ECHO, ['k'], [arg]).then(
    (value) => ({ value, at: performance.now() - since }),
    (error: Error) => ({ error: error.message, at: performance.now() - since }),
  );
}

/**
 * The module's script calls keep the client's `commandTimeout` with one timer per timeout value
 * instead of one per command (see DeadlineCommand). This server is paused with SIGSTOP, so it
 * is started here, not shared.
 */
describe('commandTimeout of script calls (one timer for every call in flight)', () => {
  let server: RedisServerHandle;
  const clients: Redis[] = [];

  const connect = (commandTimeout: number): Promise<Redis> =>
    connectWithEcho(server.url, { commandTimeout }, clients);

  beforeAll(async () => {
    server = await startRedisServer();
  });

  afterEach(() => {
    server.kill('SIGCONT');
    for (const client of clients.splice(0)) {
      client.disconnect();
    }
  });

  afterAll(async () => {
    await server.stop();
  });

  it('rejects each waiting call once its own timeout has passed, with ioredis’ error', async () => {
    const timeout = 400;
    const client = await connect(timeout);
    server.kill('SIGSTOP');
    const start = performance.now();
    const first = call(client, 'first', start);
    await hold(300);
    const secondSentAt = performance.now() - start;
    const second = call(client, 'second', start);
    const [a, b] = await Promise.all([first, second]);

    expect(a).toMatchObject({ error: 'Command timed out' });
    expect(b).toMatchObject({ error: 'Command timed out' });
    // Never before its own deadline (the second call was sent 300 ms after the first, so one
    // timer for both must not reject it with the first); late by at most a loaded machine's lag.
    expect(a.at).toBeGreaterThanOrEqual(timeout - 1);
    expect(b.at).toBeGreaterThanOrEqual(secondSentAt + timeout - 1);
    expect(b.at).toBeLessThan(secondSentAt + timeout + 2_000);

    // The late replies still go to the calls that timed out, not to the next one.
    server.kill('SIGCONT');
    expect(await runScript(client, ECHO, ['k'], ['after'])).toBe('after');
  });

  it('lets a call answered before its own deadline resolve, though an older deadline passed meanwhile', async () => {
    const timeout = 3_000;
    const client = await connect(timeout);
    const start = performance.now();
    // Answered at once; its deadline (at 3,000 ms) is the one the timer waits for.
    expect(await call(client, 'early', start)).toMatchObject({ value: 'early' });
    await hold(1_500);
    server.kill('SIGSTOP');
    // Sent at about 1,500 ms: its deadline is at about 4,500 ms. The server answers at about
    // 3,300 ms, after the timer fired for the first call and well before this call's own deadline
    // (a late timer only makes the case easier, a late SIGCONT still has 1.2 s to spare).
    const late = call(client, 'late', start);
    await hold(1_800);
    server.kill('SIGCONT');
    expect(await late).toMatchObject({ value: 'late' });
  });

  it('answers a burst in order and keeps no timer that holds the process open', async () => {
    const client = await connect(60_000);
    const timersBefore = process.getActiveResourcesInfo().filter((type) => type === 'Timeout');
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) => runScript(client, ECHO, ['k'], [`b${i}`])),
    );
    expect(replies).toEqual(Array.from({ length: 500 }, (_, i) => `b${i}`));
    // A timer is still armed for the first deadline, a minute away; unref'd, so a process whose
    // work is done exits now instead of a minute later.
    const timersAfter = process.getActiveResourcesInfo().filter((type) => type === 'Timeout');
    // At most as many as before: a timer of an earlier test may end meanwhile, never one more.
    expect(timersAfter.length).toBeLessThanOrEqual(timersBefore.length);
  });

  it('leaves a client without commandTimeout waiting, as ioredis does', async () => {
    const client = new Redis(server.url, { maxRetriesPerRequest: 0, lazyConnect: true });
    clients.push(client);
    await client.connect();
    await client.script('LOAD', ECHO.source);
    server.kill('SIGSTOP');
    const start = performance.now();
    const pending = call(client, 'patient', start);
    // Longer than the other tests' timeouts: nothing here may reject it.
    await hold(1_000);
    server.kill('SIGCONT');
    expect(await pending).toMatchObject({ value: 'patient' });
  });
});

/**
 * Redis Enterprise and Redis Cloud announce a maintenance (a shard migrating or failing over) with a
 * RESP3 push, `MIGRATING`. From ioredis 6.1 on, the client then gives the commands in flight and
 * those it sends until the window ends `maintRelaxedCommandTimeout` instead of `commandTimeout`,
 * and fails them with its `CommandTimeoutDuringMaintenanceError`. A proxy in front of the server
 * plays the part of the cluster's own proxy and sends the push, while the server is stopped (so
 * that it lands between two replies); the module's script calls must time out as the client's own
 * `evalsha` does.
 */
describe('commandTimeout of script calls during a Redis maintenance window', () => {
  const MIGRATING = '>3\r\n$9\r\nMIGRATING\r\n:1\r\n:30\r\n';
  let server: RedisServerHandle;
  let proxy: Server;
  const downstream = new Set<Socket>();
  const clients: Redis[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    proxy = createServer((socket) => {
      const upstream = new Socket();
      upstream.connect(server.port, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      downstream.add(socket);
      const end = (): void => {
        downstream.delete(socket);
        socket.destroy();
        upstream.destroy();
      };
      socket.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  });

  afterEach(() => {
    server.kill('SIGCONT');
    for (const client of clients.splice(0)) {
      client.disconnect();
    }
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await server.stop();
  });

  const connect = (commandTimeout: number, relaxed: number): Promise<Redis> => {
    const { port } = proxy.address() as AddressInfo;
    return connectWithEcho(
      `redis://127.0.0.1:${port}`,
      { commandTimeout, maintRelaxedCommandTimeout: relaxed },
      clients,
    );
  };

  /** Sends the push to the client and resolves once ioredis has read it. */
  const announceMaintenance = (): Promise<void> =>
    new Promise((resolve) => {
      const seen = (): void => {
        unsubscribe('ioredis:maintenance', seen);
        resolve();
      };
      subscribe('ioredis:maintenance', seen);
      for (const socket of downstream) {
        socket.write(MIGRATING);
      }
    });

  /** The client's own `evalsha`, with when it settled. */
  const plainCall = (client: Redis, arg: string, since: number): Promise<Settled> =>
    client.evalsha(ECHO.sha, 1, 'k', arg).then(
      (value) => ({ value, at: performance.now() - since }),
      (error: Error) => ({ error: error.message, at: performance.now() - since }),
    );

  it('keeps waiting for calls in flight when a maintenance window opens, as the client’s own commands do', async () => {
    const client = await connect(1_500, 8_000);
    server.kill('SIGSTOP');
    const start = performance.now();
    // Two calls of one turn: the first is written at once, the second with the turn's batch.
    const first = call(client, 'first', start);
    const second = call(client, 'second', start);
    const plain = plainCall(client, 'plain', start);
    await announceMaintenance();
    // Past commandTimeout, well before the relaxed timeout.
    await hold(2_500);
    server.kill('SIGCONT');
    expect(await plain).toMatchObject({ value: 'plain' });
    expect(await first).toMatchObject({ value: 'first' });
    expect(await second).toMatchObject({ value: 'second' });
  });

  it('times a call sent during a maintenance window out after the relaxed timeout, with the client’s error', async () => {
    const relaxed = 1_200;
    const client = await connect(300, relaxed);
    server.kill('SIGSTOP');
    await announceMaintenance();
    const start = performance.now();
    const [batched, plain] = await Promise.all([
      call(client, 'batched', start),
      plainCall(client, 'plain', start),
    ]);
    expect(plain).toMatchObject({
      error: `Command timed out during server maintenance (relaxed timeout: ${relaxed}ms)`,
    });
    expect(batched).toMatchObject({ error: (plain as { error: string }).error });
    expect(batched.at).toBeGreaterThanOrEqual(relaxed - 1);
  });
});

// Returns its keys and arguments as the server received them.
const ECHO_ALL = defineScript(`return { KEYS, ARGV }`);

/**
 * A script call's keys and arguments reach the server as ioredis' own `evalsha` sends them,
 * whichever way the command is built (the batched transport sets its argument list itself).
 */
describe('script call arguments', () => {
  const clients: Redis[] = [];
  afterAll(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });

  const connect = async (keyPrefix?: string): Promise<Redis> => {
    const client = new Redis(testRedisUrl(), {
      lazyConnect: true,
      commandTimeout: 5_000,
      ...(keyPrefix === undefined ? {} : { keyPrefix }),
    });
    clients.push(client);
    await client.connect();
    await client.script('LOAD', ECHO_ALL.source);
    return client;
  };

  const keys = ['a:{job}:lock', 'a:{job}:state'];
  const args = ['token', '', 'é ✓ "quoted"', 30_000, 1_735_689_600_000, 0, -1, 2 ** 60, 0.5];

  it.each([
    ['no keyPrefix', undefined],
    ['an ioredis keyPrefix', 'pre:'],
  ])('sends text and numbers as ioredis does, on a client with %s', async (_label, keyPrefix) => {
    const client = await connect(keyPrefix);
    const reply = await runScript(client, ECHO_ALL, keys, args);
    const expected = await client.evalsha(ECHO_ALL.sha, keys.length, ...keys, ...args);
    expect(reply).toEqual(expected);
    const prefix = keyPrefix ?? '';
    expect(reply).toEqual([
      keys.map((key) => `${prefix}${key}`),
      [
        'token',
        '',
        'é ✓ "quoted"',
        '30000',
        '1735689600000',
        '0',
        '-1',
        '1152921504606846976',
        '0.5',
      ],
    ]);
  });

  it("writes the bytes of ioredis' own command each time the command is written (a resend too)", () => {
    const command = DeadlineCommand.evalsha(ECHO_ALL.sha, keys, args, {});
    const own = new Command('evalsha', [ECHO_ALL.sha, keys.length, ...keys, ...args], {
      replyEncoding: 'utf8',
    });
    const expected = Buffer.from(own.toWritable(undefined as never));
    expect(Buffer.from(command.toWritable(undefined))).toEqual(expected);
    expect(Buffer.from(command.toWritable(undefined))).toEqual(expected);
  });

  it("writes ioredis' bytes for text of every length around 256 bytes, multi-byte text included", () => {
    const texts = [254, 255, 256, 257, 1_000].flatMap((bytes) => [
      'x'.repeat(bytes),
      'é'.repeat(Math.floor(bytes / 2)) + 'x'.repeat(bytes % 2),
    ]);
    const command = DeadlineCommand.evalsha(ECHO_ALL.sha, keys, texts, {});
    const own = new Command('evalsha', [ECHO_ALL.sha, keys.length, ...keys, ...texts], {
      replyEncoding: 'utf8',
    });
    expect(Buffer.from(command.toWritable(undefined))).toEqual(
      Buffer.from(own.toWritable(undefined as never)),
    );
  });

  it("writes ioredis' bytes for all-ASCII text and for text with one character beyond ASCII", () => {
    const ascii = ['d3b07384d113edec49eaa6238ad5ff00', '', 'completed', '{"kind":"run"}'];
    // One character beyond ASCII anywhere in the call, a lone surrogate included: each is
    // measured as ioredis measures it.
    const variants = [
      ascii,
      ...['\u0080', 'é', '✓', '😀', '\ud800', '\udc00'].map((c) => [...ascii, `x${c}`]),
    ];
    for (const texts of variants) {
      const command = DeadlineCommand.evalsha(ECHO_ALL.sha, keys, [...texts, 42], {});
      const own = new Command('evalsha', [ECHO_ALL.sha, keys.length, ...keys, ...texts, 42], {
        replyEncoding: 'utf8',
      });
      expect(Buffer.from(command.toWritable(undefined))).toEqual(
        Buffer.from(own.toWritable(undefined as never)),
      );
    }
  });
});
