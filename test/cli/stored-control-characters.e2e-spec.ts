// An instance id read from the store or from an instance's reply may carry control characters: an
// older version took an instanceId with an escape or a line break as it was given, and a custom
// store or another implementation of the channel may write anything. Printed raw, an escape
// clears the operator's screen or recolours it, and a line break forges a row of the table or a
// line of the command's answer. The CLI prints such a text read from the store on one line, each
// control character a space, as `history` prints its cells; a trigger reply that carries one is
// not taken at all.
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisLockStore } from 'nestjs-cron-lock';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';

/** Clears the screen, then forges what reads as a second, free job of the table. */
const ID = 'worker-7\u001b[2J\nbilling  free';
const SHOWN = 'worker-7 [2J billing  free';
/** Any control character but the line breaks between the command's own lines. */
// eslint-disable-next-line no-control-regex -- control characters are what is looked for
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

describe('an instance id read from Redis with control characters in it', () => {
  let prefix: string;
  let store: RedisLockStore;
  let redis: Redis;

  beforeEach(async () => {
    prefix = uniquePrefix('stored-control-chars');
    store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    redis = newRedisClient();
  });

  afterEach(async () => {
    await redis.del(...Object.values(store.keysOf('reports')));
    await redis.quit();
    await store.close();
  });

  const redisArgs = (): string[] => ['--redis', testRedisUrl(), '--prefix', prefix];

  /** The lock of `reports`, held by the instance with that id, as it wrote it. */
  async function holdAsOlderInstance(): Promise<void> {
    const held = await store.acquire({
      name: 'reports',
      token: randomBytes(16).toString('hex'),
      ttl: 600_000,
      instanceId: ID,
    });
    expect(held.acquired).toBe(true);
  }

  it("status prints the lock's holder on the job's row, each control character a space", async () => {
    await holdAsOlderInstance();

    const status = await runCli(['status', ...redisArgs()]);

    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).not.toMatch(CONTROL);
    const lines = status.stdout.split('\n');
    // The header, the one job, then the summary: no forged row.
    expect(lines.filter((line) => line.includes('free'))).toEqual([
      expect.stringMatching(/^reports +held +worker-7 \[2J billing {2}free +/),
    ]);
    expect(lines[1]).toContain(SHOWN);
  });

  it('release prints the holder on one line when it refuses, and when it releases', async () => {
    await holdAsOlderInstance();

    const refused = await runCli(['release', 'reports', ...redisArgs()]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain(`is locked by ${SHOWN}:`);
    expect(refused.stdout).toContain(`If ${SHOWN} is still running the job`);
    expect(refused.stdout).not.toMatch(CONTROL);

    const released = await runCli(['release', 'reports', ...redisArgs(), '--yes']);
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).toContain(`was held by ${SHOWN},`);
    expect(released.stdout).not.toMatch(CONTROL);
  });

  it('trigger takes no reply whose id or skip reason holds a control character: no live instance', async () => {
    // Another instance answers `reports` as run and completed under that id, `exports` as skipped
    // under a clean id for a reason with an escape and a line break in it. The channel's parser
    // drops both replies, so the CLI prints neither and answers as when no instance has the job.
    const peer = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    const subscription = await peer.triggers.subscribe((message) => {
      if (message.kind !== 'request') {
        return;
      }
      const reply = { kind: 'reply' as const, id: message.id, name: message.name };
      void peer.triggers.publish(
        message.name === 'reports'
          ? {
              ...reply,
              instanceId: ID,
              status: 'finished',
              fencingToken: 2,
              outcome: 'completed',
              durationMs: 5,
            }
          : {
              ...reply,
              instanceId: 'peer-1',
              status: 'skipped',
              reason: 'quota\u001b[31m\nexceeded',
            },
      );
    });
    try {
      const [ran, skipped] = await Promise.all([
        runCli(['trigger', 'reports', ...redisArgs(), '--yes']),
        runCli(['trigger', 'exports', ...redisArgs(), '--yes']),
      ]);

      for (const [run, job] of [
        [ran, 'reports'],
        [skipped, 'exports'],
      ] as const) {
        expect(run.code, run.stderr).toBe(1);
        expect(run.stdout).toContain(`"${job}" did not run: no live instance has this job`);
        expect(run.stdout).not.toContain('worker-7');
        expect(run.stdout).not.toContain('quota');
        expect(run.stdout + run.stderr).not.toMatch(CONTROL);
        // The command's own lines only: no line begins with what the reply carried after its break.
        expect(run.stdout).not.toMatch(/^(billing|exceeded)/m);
      }
    } finally {
      await subscription.close();
      await peer.close();
    }
  });
});
