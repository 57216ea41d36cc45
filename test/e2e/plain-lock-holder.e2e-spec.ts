// inspect().holder names the instance holding the lock, or null: never an instance that does not
// hold it. A name run both ways (a recorded run, then a plain `run()` of another instance, as
// when one app records it and another locks it plainly) is held by the plain lock, which records
// no holder: the instance of the recorded run before it must not be shown as holding it (the
// CLI's HOLDER column and the dashboard read the same field). On every built-in store.
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService } from 'nestjs-cron-lock';
import { builtInStores } from '../support/built-in-stores.js';
import { holdUntilStopped } from '../support/held-run.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo();
  }
});

describe.each(builtInStores('plain_holder'))(
  'a plain lock after a recorded run on $label',
  ({ build }) => {
    it('does not name the recorded run’s instance as the holder of the plain lock', async () => {
      const { store, close } = await build();
      cleanup.push(close);
      const boot = async (instanceId: string): Promise<CronLockService> => {
        const app: TestingModule = await Test.createTestingModule({
          imports: [
            ScheduleModule.forRoot(),
            CronLockModule.forRoot({ store, instanceId, logger: false }),
          ],
        }).compile();
        cleanup.push(() => app.close());
        await app.init();
        return app.get(CronLockService);
      };
      const a = await boot('instance-a');
      const b = await boot('instance-b');

      const recorded = await a.run('rebuild-index', { record: true }, () => 'done');
      expect(recorded.ran).toBe(true);
      expect((await a.inspect('rebuild-index')).holder).toBeNull();

      const plain = holdUntilStopped(b, 'rebuild-index');
      cleanup.push(() => plain.done);
      cleanup.push(async () => plain.stop());
      await plain.started;

      const seen = await a.inspect('rebuild-index');
      expect(seen.ttlLeft).not.toBeNull();
      // The plain lock records no holder: null, or the instance that holds it, never instance-a.
      expect([null, 'instance-b']).toContain(seen.holder);
    });
  },
);
