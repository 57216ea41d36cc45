// `CronLockService.trigger(name, { wait: true })` for a run that is first replaced by a later
// occurrence (`overlap: 'replace'`, `ReplacedError` on its signal) and then loses its lock before
// it returns: its history records it `lost` (a lost lock takes precedence), and the reply of the
// wait must say the same, on every built-in store, not `aborted` because the signal's first
// reason was the replacement.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  LockLostError,
  ReplacedError,
  type LockContext,
  type LockStore,
} from 'nestjs-cron-lock';
import { lockTokenReader } from '../../lib/stores/lock-token.js';
import { builtInStores } from '../support/built-in-stores.js';
import { waitFor } from '../support/redis.js';
import { untilAborted } from '../support/run-log.js';

const JOB = 'trigger-replaced-then-lost';

/** The triggered run: how its signal was aborted, and what its `ctx.extend()` rejected with. */
interface TriggeredRun {
  abortedBy?: string;
  extendError?: string;
}
const triggered: TriggeredRun[] = [];
/** Resolved by the test once it freed the run's lock. */
const lockFreed: { promise: Promise<void>; resolve: () => void } = newGate();

function newGate(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

function nameOf(reason: unknown): string {
  if (reason instanceof ReplacedError) return 'ReplacedError';
  if (reason instanceof LockLostError) return 'LockLostError';
  return String(reason);
}

@Injectable()
class ReplacedThenLost {
  // Every second, so the next occurrence finds the triggered run holding the lock and replaces
  // it; a 3 s ttl renewed every second tells the run within a second or so.
  @LockedCron('* * * * * *', { name: JOB, ttl: '3s', overlap: 'replace' })
  async sync(ctx: LockContext): Promise<void> {
    if (ctx.trigger !== 'manual') {
      // The scheduled runs end at once: only the triggered one holds the lock for long.
      return;
    }
    const run: TriggeredRun = {};
    triggered.push(run);
    // The bound only ends a test that went wrong.
    await untilAborted(ctx, 60_000);
    run.abortedBy = nameOf(ctx.signal.reason);
    // Replaced, it finishes a last step first; meanwhile its lock is freed (as `release` does),
    // and the extend it asks for finds the lock gone.
    await lockFreed.promise;
    try {
      await ctx.extend();
    } catch (error) {
      run.extendError = nameOf(error);
    }
  }
}

describe.each(builtInStores('trigger_replaced_lost'))(
  'trigger --wait for a run replaced and then lost, on $label',
  ({ build }) => {
    const closing: Array<() => Promise<void>> = [];

    afterEach(async () => {
      for (const close of closing.splice(0).reverse()) {
        await close();
      }
      triggered.length = 0;
      Object.assign(lockFreed, newGate());
    });

    async function boot(): Promise<{ locks: CronLockService; store: LockStore }> {
      const { store, close } = await build();
      closing.push(close);
      const module: TestingModule = await Test.createTestingModule({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({ store, instanceId: 'w-1', logger: false }),
        ],
        providers: [ReplacedThenLost],
      }).compile();
      closing.push(() => module.close());
      await module.init();
      return { locks: module.get(CronLockService), store };
    }

    it('resolves with the outcome its history records: lost', async () => {
      const { locks, store } = await boot();

      // A trigger that lands while a scheduled run holds the lock for its few ms is answered
      // `held`: asked again, as an operator would.
      let waiting: ReturnType<CronLockService['trigger']> | undefined;
      for (let attempt = 0; attempt < 5 && triggered.length === 0; attempt++) {
        const call = locks.trigger(JOB, { wait: true });
        let refused = false;
        void call.then((result) => (refused = !result.ran));
        await waitFor(() => refused || triggered.length > 0, {
          timeout: 10_000,
          message: 'the run, or the refusal',
        });
        if (!refused) waiting = call;
      }
      expect(waiting).toBeDefined();

      await waitFor(() => triggered[0].abortedBy, { timeout: 10_000, message: 'the run told' });
      expect(triggered[0].abortedBy).toBe('ReplacedError');

      // Frees the run's lock as `nestjs-cron-lock release` and the dashboard do: owner-checked,
      // with the holder's token read first.
      const token = await lockTokenReader(store)!(JOB);
      expect(token).not.toBeNull();
      expect(await store.release({ name: JOB, token: token! })).toBe(true);
      lockFreed.resolve();

      const result = await waiting!;
      expect(triggered[0].extendError).toBe('LockLostError');

      const entries = await locks.history(JOB);
      const recorded = entries.filter(
        (entry) => entry.kind === 'run' && entry.trigger === 'manual',
      );
      expect(recorded).toMatchObject([{ outcome: 'lost' }]);
      expect(result).toMatchObject({ ran: true, instanceId: 'w-1', outcome: 'lost' });
    });
  },
);
