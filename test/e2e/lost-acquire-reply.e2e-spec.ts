// An acquisition whose reply is lost may still run on the server later: Redis froze (a long fork,
// a VM pause) with the command already in its socket buffer, and runs it when it resumes. The
// release sent for it must not be given up while the store is still unreachable, or that lock
// sits there for its whole ttl with nobody running under it (real redis-server, SIGSTOP). A
// release the server refuses is answered all the same, and is not sent again.
import { Test, type TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
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

describe('an acquisition the server refused', () => {
  it('is released once when the server refuses the release too (a missing ACL permission), not again every 2 s', async () => {
    process.on('unhandledRejection', onUnhandled);
    server = await startRedisServer();
    const admin = new Redis(server.url);
    try {
      // A user that may do anything but run scripts: every acquisition and release is refused.
      await admin.call('ACL', 'SETUSER', 'no-scripts', 'reset', 'on', '>pw', '~*', '&*', '+@all');
      await admin.call('ACL', 'SETUSER', 'no-scripts', '-evalsha', '-eval', '-script');
      const logger = new CapturingLogger();
      app = await Test.createTestingModule({
        imports: [
          CronLockModule.forRoot({
            redis: `redis://no-scripts:pw@127.0.0.1:${server.port}`,
            keyPrefix: uniquePrefix('refused'),
            logger,
          }),
        ],
      }).compile();
      await app.init();
      const locks = app.get(CronLockService);
      await admin.call('ACL', 'LOG', 'RESET');
      for (let i = 0; i < 3; i++) {
        expect(await locks.run('job', { ttl: '60s' }, () => 'never')).toEqual({
          ran: false,
          reason: 'store-error',
        });
      }
      // Each refused acquisition, and the release sent for it, refused in turn.
      await waitFor(async () => (await deniedScripts(admin)) >= 6, {
        message: 'the three acquisitions and their releases refused',
      });
      // A refusal is the server's answer: whatever it held before was run, so nothing is left to
      // free. Before, each release was sent again 250 ms later, then every 0.5, 1 and 2 s, for as
      // long as the app ran. A bounded wait: long enough for two of those rounds.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(await deniedScripts(admin)).toBe(6);
      // The refusal itself is still reported, once per acquisition, with the permission to grant.
      const refusals = logger.lines.filter(
        (line) =>
          line.message.includes('lock store error on acquire') && line.message.includes('EVALSHA'),
      );
      expect(refusals).toHaveLength(3);
    } finally {
      admin.disconnect();
    }
  }, 30_000);
});

/** Script calls the server refused since the ACL log was reset (entries count repeats). */
async function deniedScripts(admin: Redis): Promise<number> {
  const entries = (await admin.call('ACL', 'LOG', '128')) as unknown[][];
  let total = 0;
  for (const entry of entries) {
    const field = (name: string): unknown => entry[entry.indexOf(name) + 1];
    if (field('object') === 'evalsha' || field('object') === 'eval') {
      total += Number(field('count'));
    }
  }
  return total;
}
