import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CronLockEventBus, ListenerResults } from '../../lib/observer/events.js';

const payload = {
  name: 'report',
  scheduledAt: null,
  instanceId: 'instance-1',
  fencingToken: 1,
  durationMs: 5,
};

describe('CronLockEventBus', () => {
  it("reports each failure among a listener's ListenerResults, a thenable whose then() throws included, and leaves none unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const reports: [string, unknown][] = [];
      const bus = new CronLockEventBus((event, error) => reports.push([event, error]));
      const thenFailed = new Error('then() failed');
      const rejected = new Error('second listener failed');
      const thenableWhoseThenThrows = {
        then(): never {
          throw thenFailed;
        },
      };
      bus.onAny(() => new ListenerResults([thenableWhoseThenThrows, Promise.reject(rejected), 1]));

      bus.emit('completed', payload);

      // The throwing then() is reported at once; the rejection as soon as it settles.
      expect(reports).toEqual([['completed', thenFailed]]);
      // Node reports an unhandled rejection once the microtasks have run, before the next turn.
      await nextTurn();
      expect(reports).toEqual([
        ['completed', thenFailed],
        ['completed', rejected],
      ]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
