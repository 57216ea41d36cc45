// An app created with Nest's `instrument.instanceDecorator` (what @nestjs/observe, in the Nest 12
// starter, installs): Nest holds a Proxy of each provider, whose methods are wrappers that carry
// the original's metadata and call it on the raw instance behind the proxy.
import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, LockedCron, MemoryLockStore, type LockContext } from 'nestjs-cron-lock';
import { runLockedJob } from 'nestjs-cron-lock/testing';

type AnyMethod = (...args: unknown[]) => unknown;

/** Wraps each instance as @nestjs/observe does (untraced calls go to the raw instance). */
function tracingProxy(instance: unknown): unknown {
  if (typeof instance !== 'object' || instance === null) return instance;
  const target = instance as Record<string | symbol, unknown>;
  const wrappers = new Map<unknown, AnyMethod>();
  return new Proxy(target, {
    get(raw, prop) {
      const value = Reflect.get(raw, prop);
      if (typeof value !== 'function' || prop === 'constructor') return value;
      let wrapper = wrappers.get(value);
      if (!wrapper) {
        const original = value as AnyMethod;
        wrapper = function (...args: unknown[]) {
          return original.apply(raw, args);
        }.bind(undefined);
        for (const key of Reflect.getMetadataKeys(original)) {
          Reflect.defineMetadata(key, Reflect.getMetadata(key, original), wrapper);
        }
        wrappers.set(value, wrapper);
      }
      return wrapper;
    },
  });
}

@Injectable()
class Jobs {
  readonly fences: number[] = [];

  @LockedCron('0 0 * * * *', { ttl: '5s', name: 'instrumented' })
  async hourly(ctx: LockContext): Promise<number> {
    this.fences.push(ctx.fencingToken);
    return ctx.fencingToken;
  }
}

@Module({
  imports: [
    ScheduleModule.forRoot(),
    CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false }),
  ],
  providers: [Jobs],
})
class AppModule {}

describe('an app whose providers an instrumentation wraps in proxies', () => {
  let app: INestApplicationContext | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('boots, and its scheduled ticks run under the lock', async () => {
    app = await NestFactory.createApplicationContext(AppModule, {
      logger: false,
      instrument: { instanceDecorator: tracingProxy },
    });
    await app.init();

    const job = app.get(SchedulerRegistry).getCronJob('instrumented');
    await job.fireOnTick();
    await job.fireOnTick(); // the same occurrence again: skipped
    expect(app.get(Jobs).fences).toEqual([1]);

    // A later occurrence than the tick's (the store refuses one more than 15 minutes ahead).
    const result = await runLockedJob(app, 'instrumented', { scheduledAt: Date.now() + 60_000 });
    expect(result).toMatchObject({ ran: true, value: 2 });
  });
});
