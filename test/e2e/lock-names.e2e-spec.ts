// Apps that lock per entity call `run()` with a new name each time (`invoice:<id>`): what the app
// keeps per name must stay bounded, and `inspect()` must not read the store once per name ever used.
import { once } from 'node:events';
import { Injectable } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockConfigError, LockedCron } from 'nestjs-cron-lock';
import { CronApps } from '../support/cron-apps.js';
import { forkTs } from '../support/fork-ts.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';

/** Never fires during a test. */
const YEARLY = '0 0 1 1 *';

@Injectable()
class ReportJobs {
  @LockedCron(YEARLY, { name: 'reports', ttl: '1m' })
  async reports(): Promise<void> {}
}

@Injectable()
class SpacedNameJobs {
  // Its lock name is `nightly_report`: a space in a job's name stands for '_'.
  @LockedCron(YEARLY, { name: 'nightly report', ttl: '1m' })
  async nightly(): Promise<void> {}
}

const apps = new CronApps();
afterEach(() => apps.closeAll());

describe('run() on ever-new lock names', () => {
  it('inspect() lists the bound jobs and the 1,000 names run() used most recently', async () => {
    const locks = await apps.boot(
      { redis: testRedisUrl(), keyPrefix: uniquePrefix('names'), logger: false },
      [ReportJobs],
    );
    for (let i = 0; i < 1_500; i++) {
      await locks.run(`invoice:${i}`, { ttl: '1m' }, () => undefined);
      // Used again after 999 newer names: among the most recent ones at the end.
      if (i === 1_000) await locks.run('invoice:1', { ttl: '1m' }, () => undefined);
    }
    const names = (await locks.inspect()).map((job) => job.name);
    const expected = [
      'reports',
      'invoice:1',
      ...Array.from({ length: 999 }, (_, i) => `invoice:${501 + i}`),
    ];
    expect(names).toHaveLength(1_001);
    expect(new Set(names)).toEqual(new Set(expected));
  });

  it('keeps the heap flat over 20,000 new names, each also skipped as held', async () => {
    const child = forkTs(
      'test/fixtures/ever-new-names.ts',
      [testRedisUrl(), uniquePrefix('heap'), '5000', '25000'],
      { execArgv: ['--expose-gc'] },
    );
    let message: { readings: [number, number]; listed: number } | undefined;
    child.on('message', (sent: typeof message) => (message = sent));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    if (!message) throw new Error('the process exited without a reading');
    const [before, after] = message.readings;
    const grownMb = (after - before) / 1024 / 1024;
    // A name kept forever costs a few hundred bytes: 20,000 of them would be several MB.
    expect(grownMb, `heap grew by ${grownMb.toFixed(2)} MB`).toBeLessThan(1.5);
    expect(message.listed).toBe(1_000);
  });
});

describe('pause() on ever-new lock names', () => {
  it('keeps the heap flat over 20,000 names each paused for a moment, with nothing reading pausedJobs', async () => {
    const child = forkTs(
      'test/fixtures/expiring-pauses.ts',
      [testRedisUrl(), uniquePrefix('pauses'), '5000', '25000'],
      { execArgv: ['--expose-gc'] },
    );
    let message: { readings: [number, number]; listed: number } | undefined;
    child.on('message', (sent: typeof message) => (message = sent));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    if (!message) throw new Error('the process exited without a reading');
    const [before, after] = message.readings;
    const grownMb = (after - before) / 1024 / 1024;
    // About 80 bytes for each ended pause kept: 1.5 MB over these 20,000 names.
    expect(grownMb, `heap grew by ${grownMb.toFixed(2)} MB`).toBeLessThan(0.5);
    expect(message.listed).toBe(0);
  });
});

describe('inspect(name)', () => {
  it('rejects a name no lock can have with a CronLockConfigError, as pause() and trigger() do', async () => {
    const locks = await apps.boot(
      { redis: testRedisUrl(), keyPrefix: uniquePrefix('inspect-name'), logger: false },
      [SpacedNameJobs],
    );
    // The job's name as written answered the empty state of a lock that cannot exist: never
    // run, free, not paused, no schedule, while the job itself was running or paused.
    const cases: Array<[unknown, string]> = [
      ['nightly report', 'CronLockService.inspect("nightly report")'],
      ['a{b}', 'CronLockService.inspect("a{b}")'],
      ['', 'CronLockService.inspect("")'],
      [null, 'CronLockService.inspect(null)'],
      [42, 'CronLockService.inspect(42)'],
    ];
    for (const [name, call] of cases) {
      const attempt = locks.inspect(name as string);
      await expect(attempt).rejects.toBeInstanceOf(CronLockConfigError);
      await expect(attempt).rejects.toThrow(call);
      await expect(attempt).rejects.toThrow('Fix:');
    }
    expect(await locks.inspect('nightly_report')).toMatchObject({
      name: 'nightly_report',
      cron: YEARLY,
    });
    expect((await locks.inspect()).map((job) => job.name)).toEqual(['nightly_report']);
  });
});
