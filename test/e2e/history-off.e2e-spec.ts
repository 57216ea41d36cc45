// A job whose history is turned off (`historySize: 0`) after it recorded runs: its next run
// empties the history, on every built-in store, so that history() (and the CLI and dashboard,
// which read the same store) never shows the old runs as the newest.
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService } from 'nestjs-cron-lock';
import { builtInStores } from '../support/built-in-stores.js';

const MINUTE = 60_000;
/** A minute well in the past, so every occurrence the test runs is due. */
const BASE = Date.now() - (Date.now() % MINUTE) - 60 * MINUTE;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo();
  }
});

describe.each(builtInStores('history_off'))('historySize 0 on $label', ({ build }) => {
  it('empties the history recorded before it was turned off, at the next run', async () => {
    const { store, close } = await build();
    cleanup.push(close);

    /** An app of the deployment on the shared store: booted, it runs the job's occurrences. */
    const boot = async (historySize: number): Promise<CronLockService> => {
      const app: TestingModule = await Test.createTestingModule({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({ store, historySize, logger: false }),
        ],
      }).compile();
      cleanup.push(() => app.close());
      await app.init();
      return app.get(CronLockService);
    };
    const runAt = async (locks: CronLockService, minute: number): Promise<void> => {
      const result = await locks.run('report', { scheduledAt: BASE + minute * MINUTE }, () => 'ok');
      expect(result.ran).toBe(true);
    };

    const before = await boot(10);
    await runAt(before, 0);
    await runAt(before, 1);
    expect((await before.history('report')).map((entry) => entry.kind)).toEqual(['run', 'run']);

    // Redeployed with the history off; the job keeps running.
    const after = await boot(0);
    await runAt(after, 2);
    await runAt(after, 3);
    expect(await after.history('report')).toEqual([]);
    expect((await after.inspect('report')).lastTick).toEqual(new Date(BASE + 3 * MINUTE));
    // Turned on again, the history starts from the runs that follow.
    const again = await boot(10);
    await runAt(again, 4);
    const entries = await again.history('report');
    expect(entries.map((entry) => entry.scheduledAt?.getTime())).toEqual([BASE + 4 * MINUTE]);
  });
});
