// run() on a job's name before CronLockModule bound the app's jobs: from the onModuleInit of a
// global module that Nest initialises before the lock module (real redis-server, memory store).
import { Global, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type CronLockModuleOptions,
  type LockedRunResult,
} from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';

const JOB = 'Reports.nightly';

@Injectable()
class Reports {
  // Never due in a test: only the run() calls below run it.
  @LockedCron('0 0 1 1 *', { ttl: '10s' })
  nightly(): void {}
}

/** The answer of a run() on the job's name made in a global module's onModuleInit. */
async function runAtInit(
  options: CronLockModuleOptions,
  work: () => string,
): Promise<{
  result: LockedRunResult<string>;
  locks: CronLockService;
  close: () => Promise<void>;
}> {
  let result: LockedRunResult<string> | undefined;
  @Injectable()
  class Warmup implements OnModuleInit {
    constructor(private readonly locks: CronLockService) {}
    async onModuleInit(): Promise<void> {
      result = await this.locks.run(JOB, undefined, work);
    }
  }
  // Global, and imported before the (global) lock module: Nest initialises it first.
  @Global()
  @Module({ providers: [Warmup] })
  class WarmupModule {}
  const module = await Test.createTestingModule({
    imports: [WarmupModule, ScheduleModule.forRoot(), CronLockModule.forRoot(options)],
    providers: [Reports],
  }).compile();
  await module.init();
  return { result: result!, locks: module.get(CronLockService), close: () => module.close() };
}

const STORES: Array<[string, () => CronLockModuleOptions]> = [
  ['memory', () => ({ store: new MemoryLockStore(), logger: new CapturingLogger() })],
  [
    'redis',
    () => ({ redis: testRedisUrl(), keyPrefix: uniquePrefix('run-at-init'), logger: false }),
  ],
];

describe.each(STORES)(
  'run() on a job name before the lock module bound its jobs (%s)',
  (_, make) => {
    it('answers paused for a job paused fleet-wide, without calling fn', async () => {
      const options = make();
      const seed = await Test.createTestingModule({
        imports: [CronLockModule.forRoot(options)],
      }).compile();
      await seed.init();
      await seed.get(CronLockService).pause(JOB, { reason: 'vendor down' });
      await seed.close();

      let called = false;
      const app = await runAtInit(options, () => {
        called = true;
        return 'ran';
      });
      try {
        expect(app.result).toEqual({ ran: false, reason: 'paused' });
        expect(called).toBe(false);
      } finally {
        await app.close();
      }
    });

    it("records the run in the job's history and state, as the same call after bootstrap does", async () => {
      const app = await runAtInit(make(), () => 'ran');
      try {
        expect(app.result).toMatchObject({ ran: true, value: 'ran' });
        const history = await app.locks.history(JOB);
        expect(history.map((entry) => [entry.kind, entry.outcome])).toEqual([['run', 'completed']]);
        expect((await app.locks.inspect(JOB)).lastOutcome).toBe('completed');
      } finally {
        await app.close();
      }
    });
  },
);
