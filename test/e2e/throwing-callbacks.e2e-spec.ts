// Nothing a listener, a logger or a job throws may crash the process or change a run's outcome,
// whatever it throws: a value without a prototype (`Object.create(null)`) has no text of its own,
// and turning it into text on the way to reporting it must not throw in turn.
import type { LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  MemoryLockStore,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { waitFor } from '../support/redis.js';
import { untilAborted } from '../support/run-log.js';

/** Resolves after the current macrotask and the ones already queued (no timer involved). */
function nextTurns(count: number): Promise<void> {
  let turn = Promise.resolve();
  for (let i = 0; i < count; i++) {
    turn = turn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  }
  return turn;
}

describe('values and callbacks that throw (in-memory store)', () => {
  let module: TestingModule | undefined;
  const crashes: unknown[] = [];
  const onCrash = (reason: unknown): void => {
    crashes.push(reason);
  };

  beforeAll(() => {
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
  });
  afterAll(() => {
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
  });
  afterEach(async () => {
    await module?.close();
    module = undefined;
    crashes.length = 0;
  });

  async function service(
    logger: CapturingLogger,
    options: Pick<CronLockModuleOptions, 'logLevels'> = {},
  ): Promise<CronLockService> {
    module = await Test.createTestingModule({
      imports: [CronLockModule.forRoot({ store: new MemoryLockStore(), logger, ...options })],
    }).compile();
    await module.init();
    return module.get(CronLockService);
  }

  describe('a listener that throws a value without a prototype', () => {
    it('is logged, and the run still succeeds and releases its lock', async () => {
      const logger = new CapturingLogger();
      const locks = await service(logger);
      locks.on('completed', () => {
        throw Object.create(null);
      });
      const released: boolean[] = [];
      locks.on('released', (event) => released.push(event.released));

      const result = await locks.run('l1', undefined, async () => 42);

      expect(result).toMatchObject({ ran: true, value: 42 });
      expect(released).toEqual([true]);
      expect((await locks.inspect('l1')).holder).toBeNull();
      const line = logger.errors().find((message) => message.includes('"completed"'));
      expect(line).toContain('[object Object]');
      expect(crashes).toEqual([]);
    });

    it('from an async listener, is logged and is no unhandled rejection', async () => {
      const logger = new CapturingLogger();
      const locks = await service(logger);
      locks.on('completed', async () => {
        throw Object.create(null);
      });
      locks.onAny(async ({ event }) => {
        if (event === 'acquired') {
          throw Object.create(null);
        }
      });

      const result = await locks.run('l2', undefined, async () => 'done');

      expect(result).toMatchObject({ ran: true, value: 'done' });
      await waitFor(
        () =>
          logger.errors().some((line) => line.includes('"completed"')) &&
          logger.errors().some((line) => line.includes('"acquired"')),
        { message: 'both listener failures to be logged' },
      );
      // Node reports an unhandled rejection once the microtasks of the turn it happened in ran.
      await nextTurns(3);
      expect(crashes).toEqual([]);
    });
  });

  describe('a job that throws a value without a prototype', () => {
    it('rejects run() with that value, and logs, emits and records the failure', async () => {
      const logger = new CapturingLogger();
      const locks = await service(logger);
      const thrown: unknown = Object.create(null);
      const failed: Array<{ error: unknown; fencingToken: number | null }> = [];
      locks.on('failed', (event) => failed.push(event));
      const scheduledAt = new Date('2025-06-01T12:00:00.000Z');

      await expect(
        locks.run('odd', { scheduledAt: scheduledAt.getTime() }, async () => {
          throw thrown;
        }),
      ).rejects.toBe(thrown);

      expect(failed).toHaveLength(1);
      expect(failed[0]!.error).toBe(thrown);
      const line = logger.errors().find((message) => message.startsWith('odd @'));
      expect(line).toContain('failed after');
      expect(line).toContain('[object Object]');
      const [entry] = await locks.history('odd');
      expect(entry).toMatchObject({ kind: 'run', outcome: 'failed', scheduledAt });
      expect(entry!.error).toContain('[object Object]');
      expect((await locks.inspect('odd')).holder).toBeNull();
      expect(crashes).toEqual([]);
    });
  });

  describe('a logger that throws', () => {
    /** A logger whose `method` throws for every line. */
    function throwingLogger(method: 'error' | 'log'): CapturingLogger {
      const logger = new CapturingLogger();
      logger[method] = () => {
        throw new Error('logger down');
      };
      return logger;
    }

    it('does not crash the process when a run loses its lock, and the run is still told', async () => {
      const locks = await service(throwingLogger('error'));
      const lost: string[] = [];
      locks.on('lost', (event) => lost.push(event.reason));

      // The lock expires under the run (no renewal): the renewer's timer reports the loss, and
      // the loss's error line is the one the logger throws on.
      const result = await locks.run('lost-bad-logger', { ttl: 150, renew: false }, async (ctx) => {
        await untilAborted(ctx, 5_000);
        return ctx.signal.aborted;
      });

      expect(result).toMatchObject({ ran: true, value: true });
      expect(lost).toHaveLength(1);
      expect(crashes).toEqual([]);
    });

    it('leaves a successful run successful when its completed line throws', async () => {
      const locks = await service(throwingLogger('log'), { logLevels: { completed: 'log' } });
      const completed: string[] = [];
      locks.on('completed', (event) => completed.push(event.name));

      const result = await locks.run('done-bad-logger', undefined, () => 'ok');

      expect(result).toMatchObject({ ran: true, value: 'ok' });
      expect(completed).toEqual(['done-bad-logger']);
      expect((await locks.inspect('done-bad-logger')).holder).toBeNull();
      expect(crashes).toEqual([]);
    });

    it("rejects a failed run with the job's error, not the logger's, and emits failed", async () => {
      const locks = await service(throwingLogger('error'));
      const failed: unknown[] = [];
      locks.on('failed', (event) => failed.push(event.error));
      const boom = new Error('job broke');

      await expect(
        locks.run('failed-bad-logger', undefined, () => {
          throw boom;
        }),
      ).rejects.toBe(boom);

      expect(failed).toEqual([boom]);
      expect((await locks.inspect('failed-bad-logger')).holder).toBeNull();
      expect(crashes).toEqual([]);
    });
  });

  describe('a logger whose methods return rejected promises', () => {
    /**
     * What an async logger returns when its sink is down: a rejected promise. A subclass, so the
     * test sees the module attach its handler (`await` and `Promise.resolve` call `then` on it too)
     * instead of guessing after how many turns Node would have reported it.
     */
    class SinkDown extends Promise<void> {
      static override get [Symbol.species](): PromiseConstructor {
        return Promise;
      }

      handled = false;

      override then<Fulfilled = void, Rejected = never>(
        onFulfilled?: ((value: void) => Fulfilled | PromiseLike<Fulfilled>) | null,
        onRejected?: ((reason: unknown) => Rejected | PromiseLike<Rejected>) | null,
      ): Promise<Fulfilled | Rejected> {
        this.handled = true;
        return super.then(onFulfilled, onRejected);
      }
    }

    /** A LoggerService each of whose methods returns a {@link SinkDown}, as an async one would. */
    class RejectingLogger implements LoggerService {
      readonly lines: Array<{ level: string; message: string; result: SinkDown }> = [];

      log(message: unknown): SinkDown {
        return this.fail('log', message);
      }
      error(message: unknown): SinkDown {
        return this.fail('error', message);
      }
      warn(message: unknown): SinkDown {
        return this.fail('warn', message);
      }
      debug(message: unknown): SinkDown {
        return this.fail('debug', message);
      }
      verbose(message: unknown): SinkDown {
        return this.fail('verbose', message);
      }

      private fail(level: string, message: unknown): SinkDown {
        const result = new SinkDown((_resolve, reject) => reject(new Error('log sink down')));
        this.lines.push({ level, message: String(message), result });
        return result;
      }
    }

    it('neither ends the process nor changes a run, from bootstrap to close', async () => {
      const unhandled = new Set<Promise<unknown>>();
      const onUnhandled = (_reason: unknown, promise: Promise<unknown>): void => {
        unhandled.add(promise);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        const logger = new RejectingLogger();
        // Bootstrap writes the in-memory store's warning.
        module = await Test.createTestingModule({
          imports: [
            CronLockModule.forRoot({ store: new MemoryLockStore(), logger, shutdownTimeout: 200 }),
          ],
        }).compile();
        await module.init();
        const locks = module.get(CronLockService);

        const completed = await locks.run('async-logger-ok', undefined, () => 'ok');
        expect(completed).toMatchObject({ ran: true, value: 'ok' });
        const boom = new Error('job broke');
        await expect(
          locks.run('async-logger-failed', undefined, () => {
            throw boom;
          }),
        ).rejects.toBe(boom);

        // A run that outlives shutdownTimeout, so that closing writes a line too.
        let started!: () => void;
        const running = new Promise<void>((resolve) => (started = resolve));
        const abandoned = locks.run('async-logger-slow', { ttl: '1m' }, async (ctx) => {
          started();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          return ctx.signal.aborted;
        });
        await running;
        await module.close();
        module = undefined;
        expect(await abandoned).toMatchObject({ ran: true, value: true });

        const written = logger.lines.map((line) => `${line.level}: ${line.message}`);
        for (const expected of [
          /^warn: Using the in-memory lock store/,
          /^debug: async-logger-ok completed in/,
          /^error: async-logger-failed failed after .*job broke/,
          /^warn: Job "async-logger-slow" was still running 200ms after shutdown began/,
        ]) {
          expect(written, `a line matching ${String(expected)}`).toContainEqual(
            expect.stringMatching(expected),
          );
        }
        // Each rejection is either handled or reported as unhandled once its turn ends.
        await waitFor(
          () => logger.lines.every((line) => line.result.handled || unhandled.has(line.result)),
          { message: 'every rejection the logger returned to be handled or reported' },
        );
        const reported = logger.lines.filter((line) => unhandled.has(line.result));
        expect(reported.map((line) => `${line.level}: ${line.message}`)).toEqual([]);
        // A handler for success alone would leave the promise `then` returns to reject unhandled.
        await nextTurns(3);
        expect(crashes).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    it("drops a line whose logger returns an object with a throwing 'then' getter", async () => {
      const logger = new CapturingLogger();
      const answers: string[] = [];
      logger.error = (message: unknown): unknown => {
        answers.push(String(message));
        return Object.defineProperty({}, 'then', {
          get() {
            throw new Error('then getter broke');
          },
        });
      };
      const locks = await service(logger);
      const boom = new Error('job broke');

      await expect(
        locks.run('then-getter-logger', undefined, () => {
          throw boom;
        }),
      ).rejects.toBe(boom);

      expect(answers).toContainEqual(expect.stringContaining('then-getter-logger'));
      expect((await locks.inspect('then-getter-logger')).holder).toBeNull();
      expect(crashes).toEqual([]);
    });
  });
});
