import { Injectable, Module, Scope, type Provider } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  MemoryLockStore,
  type CronLockAnyEvent,
  type CronLockEvents,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';
import { CronLockEventEmitterModule } from 'nestjs-cron-lock/event-emitter';
import { CapturingLogger } from '../support/capturing-logger.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

/** What a user writes: plain `@OnEvent` handlers. */
@Injectable()
class LockAlerts {
  readonly lost: CronLockEvents['lost'][] = [];
  readonly completed: CronLockEvents['completed'][] = [];
  readonly skipped: CronLockEvents['skipped'][] = [];
  readonly alerts: CronLockEvents['alert'][] = [];

  @OnEvent('cron-lock.lost')
  onLost(event: CronLockEvents['lost']): void {
    this.lost.push(event);
  }

  @OnEvent('cron-lock.completed')
  onCompleted(event: CronLockEvents['completed']): void {
    this.completed.push(event);
  }

  @OnEvent('cron-lock.alert')
  onAlert(event: CronLockEvents['alert']): void {
    this.alerts.push(event);
  }

  @OnEvent('cron-lock.skipped')
  onSkipped(event: CronLockEvents['skipped']): void {
    this.skipped.push(event);
  }
}

/** A handler that opts out of @nestjs/event-emitter's error suppression: its error goes to the emitter's caller. */
@Injectable()
class StrictHandler {
  @OnEvent('cron-lock.completed', { suppressErrors: false })
  onCompleted(): void {
    throw new Error('handler failed');
  }
}

/**
 * Deferred handlers that do not suppress their errors. EventEmitter2 runs them from
 * `setImmediate` / `process.nextTick` and keeps no promise of them: an error is an unhandled
 * rejection, which ends a Node process.
 */
@Injectable()
class DeferredStrictHandler {
  @OnEvent('cron-lock.completed', { async: true, suppressErrors: false })
  async onCompleted(): Promise<void> {
    throw new Error('deferred handler failed');
  }
}

@Injectable()
class NextTickWildcardHandler {
  @OnEvent('cron-lock.*', { nextTick: true, suppressErrors: false })
  onAny(): void {
    throw new Error('next-tick handler failed');
  }
}

/**
 * A `nextTick` handler with `promisify: true`: EventEmitter2 (6.4.9) never calls it, its wrapper
 * returning a resolved promise in its place.
 */
@Injectable()
class NextTickPromisifiedStrictHandler {
  @OnEvent('cron-lock.completed', { nextTick: true, promisify: true, suppressErrors: false })
  onCompleted(): void {
    throw new Error('promisified next-tick handler failed');
  }
}

/**
 * Request-scoped with `nextTick: true`: @nestjs/event-emitter registers an `async` function for
 * it, which EventEmitter2 promisifies, so it is never called either.
 */
@Injectable({ scope: Scope.REQUEST })
class RequestScopedNextTickStrictHandler {
  @OnEvent('cron-lock.completed', { nextTick: true, suppressErrors: false })
  async onCompleted(): Promise<void> {
    throw new Error('request-scoped next-tick handler failed');
  }
}

/** Request-scoped, with EventEmitter2's promisifying turned off: its promise is dropped. */
@Injectable({ scope: Scope.REQUEST })
class RequestScopedUnpromisifiedStrictHandler {
  @OnEvent('cron-lock.completed', { async: true, promisify: false, suppressErrors: false })
  async onCompleted(): Promise<void> {
    throw new Error('request-scoped unpromisified handler failed');
  }
}

/** The same handler with `promisify: true`: EventEmitter2 returns its promise to the emitter. */
@Injectable()
class PromisifiedStrictHandler {
  @OnEvent('cron-lock.completed', { async: true, promisify: true, suppressErrors: false })
  async onCompleted(): Promise<void> {
    throw new Error('promisified handler failed');
  }
}

/**
 * Request-scoped: @nestjs/event-emitter registers an `async` function for it, which EventEmitter2
 * promisifies, so its promise reaches the emitter and the lock logs its error.
 */
@Injectable({ scope: Scope.REQUEST })
class RequestScopedStrictHandler {
  @OnEvent('cron-lock.completed', { async: true, suppressErrors: false })
  async onCompleted(): Promise<void> {
    throw new Error('request-scoped handler failed');
  }
}

/**
 * Several strict handlers of one event, failing each its own way: a synchronous throw (which
 * @nestjs/event-emitter's async wrapper turns into a rejection), an `async` method, and a deferred
 * handler whose promise EventEmitter2 returns (`promisify: true`).
 */
@Injectable()
class SeveralStrictHandlers {
  @OnEvent('cron-lock.completed', { suppressErrors: false })
  throws(): void {
    throw new Error('first handler failed');
  }

  @OnEvent('cron-lock.completed', { suppressErrors: false })
  async rejects(): Promise<void> {
    throw new Error('second handler failed');
  }

  @OnEvent('cron-lock.completed', { async: true, promisify: true, suppressErrors: false })
  async rejectsLater(): Promise<void> {
    throw new Error('third handler failed');
  }
}

/** A deferred strict handler of the app's own events only: none of the lock's reach it. */
@Injectable()
class OtherEventsStrictHandler {
  @OnEvent('orders.*', { async: true, suppressErrors: false })
  async onOrder(): Promise<void> {
    throw new Error('order handler failed');
  }
}

const apps: TestingModule[] = [];

interface BootOptions {
  lock?: CronLockModuleOptions;
  forwarder?: boolean | { prefix?: string };
  eventEmitter?: boolean;
  /** `EventEmitterModule.forRoot({ wildcard })`. */
  wildcard?: boolean;
  providers?: Provider[];
  /** Overrides the app's EventEmitter2, as an app's tests do with a test double. */
  emitter?: object;
}

async function boot({
  lock = { store: new MemoryLockStore(), logger: false },
  forwarder = true,
  eventEmitter = true,
  wildcard = false,
  providers = [],
  emitter,
}: BootOptions = {}): Promise<TestingModule> {
  @Module({
    imports: [
      ...(eventEmitter ? [EventEmitterModule.forRoot({ wildcard })] : []),
      CronLockModule.forRoot(lock),
      ...(forwarder
        ? [CronLockEventEmitterModule.forRoot(forwarder === true ? {} : forwarder)]
        : []),
    ],
    providers: [LockAlerts, ...providers],
  })
  class AppModule {}
  const builder = Test.createTestingModule({ imports: [AppModule] });
  if (emitter) {
    builder.overrideProvider(EventEmitter2).useValue(emitter);
  }
  const app = await builder.compile();
  apps.push(app);
  await app.init();
  return app;
}

/** The lines the lock logged for a failing listener. */
function listenerFailures(logger: CapturingLogger): string[] {
  return logger.errors().filter((message) => message.startsWith('A listener of the '));
}

/** Every event the emitter sees, by name. */
function recordEmitter(app: TestingModule): { name: string; payload: unknown }[] {
  const seen: { name: string; payload: unknown }[] = [];
  app.get(EventEmitter2).onAny((name, payload) => {
    seen.push({ name: String(name), payload });
  });
  return seen;
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

describe('CronLockEventEmitterModule', () => {
  it('forwards acquired, completed and released of a run as cron-lock.<event>, same payloads', async () => {
    const app = await boot();
    const seen = recordEmitter(app);

    const result = await app.get(CronLockService).run('report', { ttl: '5s' }, () => 'done');

    expect(result.ran).toBe(true);
    expect(seen.map((event) => event.name)).toEqual([
      'cron-lock.acquired',
      'cron-lock.completed',
      'cron-lock.released',
    ]);
    expect(seen[0]!.payload).toMatchObject({ name: 'report', fencingToken: 1 });
    expect(seen[2]!.payload).toMatchObject({ name: 'report', released: true });
    expect(app.get(LockAlerts).completed).toEqual([seen[1]!.payload]);
  });

  it('forwards every event the service emits, whatever its name, in order', async () => {
    const app = await boot();
    const locks = app.get(CronLockService);
    const seen = recordEmitter(app);
    const emitted: CronLockAnyEvent[] = [];
    locks.onAny((event) => emitted.push(event));

    await locks.run('sync', { ttl: '5s', scheduledAt: 60_000 }, () => undefined);
    await locks.run('sync', { ttl: '5s', scheduledAt: 60_000 }, () => undefined);
    await expect(
      locks.run('sync', { ttl: '5s' }, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    expect(emitted.map((event) => event.event)).toEqual(
      expect.arrayContaining(['acquired', 'completed', 'released', 'skipped', 'failed']),
    );
    expect(seen).toEqual(
      emitted.map((event) => ({ name: `cron-lock.${event.event}`, payload: event.payload })),
    );
    expect(app.get(LockAlerts).skipped).toEqual([
      expect.objectContaining({ name: 'sync', reason: 'tick-done' }),
    ]);
  });

  it('uses the prefix option', async () => {
    const app = await boot({ forwarder: { prefix: 'jobs' } });
    const seen = recordEmitter(app);

    await app.get(CronLockService).run('report', { ttl: '5s' }, () => undefined);

    expect(seen.map((event) => event.name)).toEqual([
      'jobs.acquired',
      'jobs.completed',
      'jobs.released',
    ]);
    expect(app.get(LockAlerts).completed).toEqual([]);
  });

  it('forwards nothing unless the module is imported', async () => {
    const app = await boot({ forwarder: false });
    const seen = recordEmitter(app);

    const result = await app.get(CronLockService).run('report', { ttl: '5s' }, () => 'done');

    expect(result.ran).toBe(true);
    expect(seen).toEqual([]);
  });

  it('fails app.init() with the fix when EventEmitterModule is missing', async () => {
    await expect(boot({ eventEmitter: false })).rejects.toThrow(
      /CronLockEventEmitterModule.*EventEmitterModule\.forRoot\(\)/,
    );
  });

  it('rejects a prefix with spaces at bootstrap, naming the option', async () => {
    await expect(boot({ forwarder: { prefix: 'cron lock' } })).rejects.toThrow(
      /CronLockEventEmitterModule\.forRoot: prefix "cron lock"/,
    );
  });

  it.each([undefined, null])(
    'rejects prefix: %s at bootstrap instead of taking the default',
    async (prefix) => {
      await expect(boot({ forwarder: { prefix: prefix as unknown as string } })).rejects.toThrow(
        /CronLockEventEmitterModule\.forRoot: option prefix is present but .*Fix:/,
      );
    },
  );

  it('logs a handler that throws with suppressErrors: false, and leaves no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const logger = new CapturingLogger();
      const app = await boot({
        lock: { redis: testRedisUrl(), keyPrefix: uniquePrefix('event-emitter'), logger },
        providers: [StrictHandler],
      });

      const result = await app.get(CronLockService).run('report', { ttl: '5s' }, () => 'done');

      expect(result).toMatchObject({ ran: true, value: 'done' });
      await waitFor(
        () => logger.errors().includes('A listener of the "completed" event threw: handler failed'),
        { timeout: 10_000, message: "the handler's error logged by the lock" },
      );
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('logs the error of every failing handler of one event, not only the first, and leaves no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const logger = new CapturingLogger();
      const app = await boot({
        lock: { store: new MemoryLockStore(), logger },
        providers: [SeveralStrictHandlers],
      });
      const locks = app.get(CronLockService);
      const failures = (): string[] =>
        logger
          .errors()
          .filter((message) => message.startsWith('A listener of the "completed" event threw: '))
          .sort();
      const expected = [
        'A listener of the "completed" event threw: first handler failed',
        'A listener of the "completed" event threw: second handler failed',
        'A listener of the "completed" event threw: third handler failed',
      ];

      const result = await locks.run('report', { ttl: '5s' }, () => 'done');

      expect(result).toMatchObject({ ran: true, value: 'done' });
      await waitFor(() => failures().length >= expected.length, {
        timeout: 10_000,
        message: "every handler's error logged by the lock",
      });
      expect(failures()).toEqual(expected);
      // The run and the next one are unaffected.
      expect(await locks.run('report', { ttl: '5s' }, () => 'again')).toMatchObject({
        ran: true,
        value: 'again',
      });
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('calls the listeners after one that throws synchronously, and logs every failure', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const logger = new CapturingLogger();
      const app = await boot({ lock: { store: new MemoryLockStore(), logger } });
      const emitter = app.get(EventEmitter2);
      const reached: string[] = [];
      emitter.on('cron-lock.completed', () => Promise.reject(new Error('async listener failed')));
      emitter.on('cron-lock.completed', () => {
        throw new Error('sync listener failed');
      });
      emitter.on('cron-lock.completed', (payload: CronLockEvents['completed']) => {
        reached.push(payload.name);
      });
      const failures = (): string[] =>
        logger
          .errors()
          .filter((message) => message.startsWith('A listener of the "completed" event threw: '))
          .sort();

      const result = await app.get(CronLockService).run('report', { ttl: '5s' }, () => 'done');

      expect(result).toMatchObject({ ran: true, value: 'done' });
      expect(reached).toEqual(['report']);
      await waitFor(() => failures().length >= 2, {
        timeout: 10_000,
        message: "both listeners' errors logged by the lock",
      });
      expect(failures()).toEqual([
        'A listener of the "completed" event threw: async listener failed',
        'A listener of the "completed" event threw: sync listener failed',
      ]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it("calls the emitter's listeners as EventEmitter2 does: onAny first, in order, with this.event", async () => {
    const app = await boot({ wildcard: true });
    const emitter = app.get(EventEmitter2);
    type Context = { event?: unknown };
    const calls: string[] = [];
    const deferred: string[] = [];
    emitter.onAny((name) => {
      calls.push(`any ${String(name)}`);
    });
    emitter.on('cron-lock.*', function (this: Context) {
      calls.push(`wildcard ${String(this.event)}`);
    });
    emitter.once('cron-lock.completed', function (this: Context) {
      calls.push(`once ${String(this.event)}`);
    });
    emitter.on(
      'cron-lock.completed',
      function (this: Context) {
        deferred.push(`async ${String(this.event)}`);
      },
      { async: true },
    );
    const locks = app.get(CronLockService);

    await locks.run('report', { ttl: '5s' }, () => undefined);
    await locks.run('report', { ttl: '5s' }, () => undefined);

    const run = (first: boolean): string[] => [
      'any cron-lock.acquired',
      'wildcard cron-lock.acquired',
      'any cron-lock.completed',
      // EventEmitter2's order for a wildcard emitter: the exact name's listeners first.
      ...(first ? ['once cron-lock.completed'] : []),
      'wildcard cron-lock.completed',
      'any cron-lock.released',
      'wildcard cron-lock.released',
    ];
    expect(calls).toEqual([...run(true), ...run(false)]);
    await waitFor(() => deferred.length >= 2, { message: 'the async listener called twice' });
    expect(deferred).toEqual(['async cron-lock.completed', 'async cron-lock.completed']);
  });

  it("sends every forwarded event through the emitAsync() of an app's EventEmitter2 test double", async () => {
    // What an app's tests write: overrideProvider(EventEmitter2).useValue({ ... }).
    const received: { name: string; payload: unknown }[] = [];
    const stub = {
      emit: vi.fn(() => true),
      emitAsync: vi.fn((name: string, payload: unknown) => {
        received.push({ name, payload });
        return Promise.resolve([]);
      }),
      on: vi.fn(),
      removeAllListeners: vi.fn(),
    };
    const logger = new CapturingLogger();
    const app = await boot({ lock: { store: new MemoryLockStore(), logger }, emitter: stub });
    expect(app.get(EventEmitter2)).toBe(stub);
    const locks = app.get(CronLockService);
    const emitted: CronLockAnyEvent[] = [];
    locks.onAny((event) => emitted.push(event));

    const result = await locks.run('report', { ttl: '5s' }, () => 'done');

    expect(result).toMatchObject({ ran: true, value: 'done' });
    expect(received).toEqual(
      emitted.map((event) => ({ name: `cron-lock.${event.event}`, payload: event.payload })),
    );
    expect(received.map((event) => event.name)).toEqual([
      'cron-lock.acquired',
      'cron-lock.completed',
      'cron-lock.released',
    ]);
    expect(listenerFailures(logger)).toEqual([]);
  });

  it("sends every forwarded event through a spy on the app emitter's emitAsync(), and its handlers still run", async () => {
    const logger = new CapturingLogger();
    const app = await boot({ lock: { store: new MemoryLockStore(), logger } });
    const spy = vi.spyOn(app.get(EventEmitter2), 'emitAsync');

    const result = await app.get(CronLockService).run('report', { ttl: '5s' }, () => 'done');

    expect(result).toMatchObject({ ran: true, value: 'done' });
    expect(spy.mock.calls.map(([name]) => name)).toEqual([
      'cron-lock.acquired',
      'cron-lock.completed',
      'cron-lock.released',
    ]);
    expect(app.get(LockAlerts).completed).toEqual([expect.objectContaining({ name: 'report' })]);
    expect(listenerFailures(logger)).toEqual([]);
  });

  // What a startup error must advise: for an `async` handler, promisify: true; for a `nextTick`
  // one, async: true in its place (with promisify) or no nextTick, and never promisify beside
  // nextTick, which EventEmitter2 then never calls.
  const addPromisify = { fix: /Fix: (add|set) promisify: true/, not: /nextTick/ };
  const leaveNextTick = {
    fix: /Fix: .*async: true in place of nextTick: true.*remove nextTick: true/,
    not: /(add|set) promisify: true/,
  };
  const strictDeferred = [
    {
      label: 'DeferredStrictHandler.onCompleted',
      handler: DeferredStrictHandler,
      wildcard: false,
      says: [/\{ async: true, suppressErrors: false \}/, /keeps no promise/],
      ...addPromisify,
    },
    {
      label: 'NextTickWildcardHandler.onAny',
      handler: NextTickWildcardHandler,
      wildcard: true,
      says: [/\{ nextTick: true, suppressErrors: false \}/, /keeps no promise/],
      ...leaveNextTick,
    },
    {
      label: 'NextTickPromisifiedStrictHandler.onCompleted',
      handler: NextTickPromisifiedStrictHandler,
      wildcard: false,
      says: [/\{ nextTick: true, promisify: true, suppressErrors: false \}/, /never calls/],
      ...leaveNextTick,
    },
    {
      label: 'RequestScopedNextTickStrictHandler.onCompleted',
      handler: RequestScopedNextTickStrictHandler,
      wildcard: false,
      says: [/\{ nextTick: true, suppressErrors: false \}/, /request-scoped/, /never calls/],
      ...leaveNextTick,
    },
    {
      label: 'RequestScopedUnpromisifiedStrictHandler.onCompleted',
      handler: RequestScopedUnpromisifiedStrictHandler,
      wildcard: false,
      says: [/\{ async: true, promisify: false, suppressErrors: false \}/, /keeps no promise/],
      ...addPromisify,
    },
  ];
  it.each(strictDeferred.map((handlerCase) => [handlerCase.label, handlerCase] as const))(
    'fails app.init() naming %s, a deferred strict handler of a forwarded event, with advice that works',
    async (label, { handler, wildcard, says, fix, not }) => {
      @Module({
        imports: [
          EventEmitterModule.forRoot({ wildcard }),
          CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false }),
          CronLockEventEmitterModule.forRoot(),
        ],
        providers: [handler],
      })
      class AppModule {}
      const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
      apps.push(app);

      const failure = await app.init().then(
        () => undefined,
        (error: unknown) => error,
      );

      expect(failure).toBeInstanceOf(CronLockConfigError);
      const message = (failure as Error).message;
      expect(message).toContain(`CronLockEventEmitterModule: ${label} handles "cron-lock.`);
      for (const text of says) {
        expect(message).toMatch(text);
      }
      const advice = message.slice(message.indexOf('Fix: '));
      expect(advice).toMatch(fix);
      expect(advice).not.toMatch(not);
    },
  );

  it('EventEmitter2 never calls a nextTick handler it promisifies: one with promisify: true, or a request-scoped one', async () => {
    const called: string[] = [];
    @Injectable()
    class OrderHandlers {
      @OnEvent('orders.created', { nextTick: true, promisify: true })
      promisified(): void {
        called.push('nextTick with promisify');
      }

      @OnEvent('orders.created', { async: true, promisify: true })
      control(): void {
        called.push('async with promisify');
      }
    }
    @Injectable({ scope: Scope.REQUEST })
    class RequestScopedOrderHandler {
      @OnEvent('orders.created', { nextTick: true })
      onCreated(): void {
        called.push('request-scoped nextTick');
      }
    }
    const app = await boot({ providers: [OrderHandlers, RequestScopedOrderHandler] });

    // Settles once the async handler ran, from setImmediate: a nextTick one would have run first.
    await app.get(EventEmitter2).emitAsync('orders.created', { id: 1 });

    expect(called).toEqual(['async with promisify']);
  });

  it.each([
    ['with promisify: true', PromisifiedStrictHandler, 'promisified handler failed'],
    ['of a request-scoped provider', RequestScopedStrictHandler, 'request-scoped handler failed'],
  ] as const)(
    'logs the error of a deferred handler %s, and leaves no unhandled rejection',
    async (_case, handler, text) => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        const logger = new CapturingLogger();
        const app = await boot({
          lock: { store: new MemoryLockStore(), logger },
          providers: [handler, OtherEventsStrictHandler],
        });

        const result = await app.get(CronLockService).run('report', { ttl: '5s' }, () => 'done');

        expect(result).toMatchObject({ ran: true, value: 'done' });
        await waitFor(
          () => logger.errors().includes(`A listener of the "completed" event threw: ${text}`),
          { timeout: 10_000, message: "the deferred handler's error logged by the lock" },
        );
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    },
  );

  it('delivers cron-lock.lost and cron-lock.alert to @OnEvent when the Redis lock key is deleted mid-run', async () => {
    const keyPrefix = uniquePrefix('event-emitter');
    const app = await boot({ lock: { redis: testRedisUrl(), keyPrefix, logger: false } });
    const alerts = app.get(LockAlerts);
    const redis = newRedisClient();
    try {
      const result = await app.get(CronLockService).run('nightly', { ttl: 900 }, async (ctx) => {
        expect(await redis.del(`${keyPrefix}:{nightly}:lock`)).toBe(1);
        await waitFor(() => ctx.signal.aborted, { timeout: 10_000, message: 'signal aborted' });
        return ctx.fencingToken;
      });

      expect(result.ran).toBe(true);
      expect(alerts.lost).toEqual([
        expect.objectContaining({
          name: 'nightly',
          reason: 'expired',
          fencingToken: result.ran ? result.value : -1,
          instanceId: app.get(CronLockService).instanceId,
        }),
      ]);
      expect(alerts.completed).toEqual([expect.objectContaining({ name: 'nightly' })]);
      // Events added after this module was written are forwarded too (no list to keep up).
      expect(alerts.alerts).toEqual([
        expect.objectContaining({ kind: 'lost', name: 'nightly', reason: 'expired' }),
      ]);
    } finally {
      await redis.quit();
    }
  });
});
