// Apps of one process that share one store object (the testing guide's "several instances", or a
// store built once and passed to each app) hear each other's triggers on every built-in store: a
// trigger() from an app without the job runs it on the app that has it.
import { Injectable, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService, LockedCron, type LockStore } from 'nestjs-cron-lock';
import { builtInStores } from '../support/built-in-stores.js';

@Injectable()
class ReportJob {
  @LockedCron('0 0 1 1 *', { name: 'shared-store-report', ttl: '5s' })
  async run(): Promise<string> {
    return 'sent';
  }
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo();
  }
});

async function boot(store: LockStore, instanceId: string, jobs: boolean): Promise<TestingModule> {
  @Module({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({ store, instanceId, logger: false }),
    ],
    providers: jobs ? [ReportJob] : [],
  })
  class AppModule {}
  const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
  cleanup.push(() => app.close());
  await app.init();
  return app;
}

describe.each(builtInStores('trigger_shared_store'))(
  'one $label shared by two apps',
  ({ build }) => {
    it('runs a trigger() of the other app on the app that has the job', async () => {
      const { store, close } = await build();
      cleanup.push(close);
      await boot(store, 'worker', true);
      const api = await boot(store, 'api', false);

      const result = await api
        .get(CronLockService)
        .trigger('shared-store-report', { wait: true, timeout: '5s' });

      expect(result).toMatchObject({
        ran: true,
        name: 'shared-store-report',
        instanceId: 'worker',
        outcome: 'completed',
      });
    });
  },
);
