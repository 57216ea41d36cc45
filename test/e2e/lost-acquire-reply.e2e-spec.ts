// An acquisition whose reply is lost may still run on the server later: Redis froze (a long fork,
// a VM pause) with the command already in its socket buffer, and runs it when it resumes. The
// release sent for it must not be given up while the store is still unreachable, or that lock
// sits there for its whole ttl with nobody running under it (real redis-server, SIGSTOP).
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService } from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { uniquePrefix, waitFor } from '../support/redis.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

/** The module-made client's command timeout (LOCK_CLIENT_DEFAULTS). */
const COMMAND_TIMEOUT_MS = 2_000;

let server: RedisServerHandle | undefined;
let app: TestingModule | undefined;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

afterEach(async () => {
  server?.kill('SIGCONT');
  await app?.close();
  await server?.stop();
  process.off('unhandledRejection', onUnhandled);
  app = server = undefined;
  expect(unhandled).toEqual([]);
  unhandled.length = 0;
});

describe('an acquisition whose reply was lost while Redis was frozen', () => {
  it('frees the lock it took once Redis answers again, not after the lock’s ttl', async () => {
    process.on('unhandledRejection', onUnhandled);
    server = await startRedisServer();
    const logger = new CapturingLogger();
    app = await Test.createTestingModule({
      imports: [
        CronLockModule.forRoot({
          redis: server.url,
          keyPrefix: uniquePrefix('lost-reply'),
          logger,
        }),
      ],
    }).compile();
    await app.init();
    const locks = app.get(CronLockService);
    const ttl = '60s';
    expect((await locks.run('job', { ttl }, () => 'warm')).ran).toBe(true);

    server.kill('SIGSTOP');
    // Its timeout makes the store check the connection with a PING, which times out too: the
    // connection is then dropped, COMMAND_TIMEOUT_MS after this run's skip.
    expect(await locks.run('other', { ttl }, () => 'never')).toEqual({
      ran: false,
      reason: 'store-error',
    });
    // Half a command timeout: this acquisition is written to the frozen connection before the
    // check drops it, and times out after that, so its release finds no connection to go on.
    await new Promise((resolve) => setTimeout(resolve, COMMAND_TIMEOUT_MS / 2));
    expect(await locks.run('job', { ttl }, () => 'never')).toEqual({
      ran: false,
      reason: 'store-error',
    });
    await waitFor(() => logger.lines.some((line) => line.message.includes('connection lost')), {
      timeout: 2 * COMMAND_TIMEOUT_MS,
      message: 'the frozen connection dropped',
    });
    // The release waits up to a command timeout for a new connection, which a frozen server never
    // completes: after this, a release given up on has been given up on.
    await new Promise((resolve) => setTimeout(resolve, COMMAND_TIMEOUT_MS + 500));
    server.kill('SIGCONT');

    // On resume the server runs what the frozen connection held: the lost acquisition takes the
    // lock for 60 s. It must be freed as soon as the store answers again (a reconnect, at most
    // 2 s of backoff, and a release), not leave every run of the job `held` for a minute.
    let last: unknown;
    await waitFor(
      async () => {
        last = await locks.run('job', { ttl }, () => 'after');
        return (last as { ran: boolean }).ran;
      },
      { timeout: 10_000, interval: 200, message: 'a run of the job after Redis resumed' },
    ).catch(() => undefined);
    // Unfreed, the lost acquisition's lock answers `held` here for the whole minute.
    expect(last).toMatchObject({ ran: true, value: 'after' });
  }, 60_000);
});
