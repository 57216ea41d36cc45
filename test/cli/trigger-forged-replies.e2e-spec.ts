// `nestjs-cron-lock trigger` takes no reply whose fields do not have their types: anyone who may
// PUBLISH on `<prefix>:triggers` can answer a request, and what the command prints of a reply
// (the reason, the fencing token, the instance) must be what an instance of this package sends.
// A second, raw ioredis client plays the forger; no instance has the job, so the only replies are
// forged ones.
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TriggerJson } from '../../lib/cli/trigger.command.js';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli, type CliRun } from './cli-process.js';

const ESC_AND_PASSWORD = '\u001b[2J\u001b[41mSPOOF\u001b[0m redis://ops:hunter2@cache:6379';

describe('nestjs-cron-lock trigger answered by forged replies only', () => {
  let prefix: string;
  let subscriber: Redis;
  let publisher: Redis;
  /** The fields of the reply the forger sends to every request, after `kind`, `id` and `name`. */
  let forged: Record<string, unknown>;

  beforeEach(async () => {
    prefix = uniquePrefix('cli-forged');
    subscriber = newRedisClient();
    publisher = newRedisClient();
    const channel = `${prefix}:triggers`;
    await subscriber.subscribe(channel);
    subscriber.on('message', (_channel: string, text: string) => {
      const message = JSON.parse(text) as { kind: string; id: string; name: string };
      if (message.kind === 'request') {
        const reply = { kind: 'reply', id: message.id, name: message.name, ...forged };
        void publisher.publish(channel, JSON.stringify(reply));
      }
    });
  });

  afterEach(() => {
    subscriber.disconnect();
    publisher.disconnect();
  });

  function trigger(...extra: string[]): Promise<CliRun> {
    return runCli([
      'trigger',
      'ghost',
      '--redis',
      testRedisUrl(),
      '--prefix',
      prefix,
      '-y',
      ...extra,
    ]);
  }

  function expectNothingForged(run: CliRun): void {
    for (const output of [run.stdout, run.stderr]) {
      expect(output).not.toContain('\u001b');
      expect(output).not.toContain('hunter2');
      expect(output).not.toContain('SPOOF');
    }
  }

  it('does not print a skipped reply with an escape and a password: no live instance', async () => {
    forged = {
      instanceId: `peer${ESC_AND_PASSWORD}`,
      status: 'skipped',
      reason: `held${ESC_AND_PASSWORD}`,
    };

    const run = await trigger();

    expectNothingForged(run);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('"ghost" did not run: no live instance has this job');
  });

  it("prints a newer version's well-formed skip reason it does not know, as the instance gave it", async () => {
    forged = { instanceId: 'peer-2', status: 'skipped', reason: 'brand-new-reason' };

    const run = await trigger();

    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain('"ghost" did not run on peer-2: brand-new-reason.');
  });

  it('does not report as started a reply whose fencing token is text, in --json', async () => {
    forged = {
      instanceId: 'peer',
      status: 'started',
      fencingToken: `7 ${ESC_AND_PASSWORD}`,
      scheduledAt: Date.now(),
    };

    const run = await trigger('--json');

    expectNothingForged(run);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout) as TriggerJson).toMatchObject({
      ran: false,
      reason: 'no-live-instance',
      fencingToken: null,
    });
  });
});
