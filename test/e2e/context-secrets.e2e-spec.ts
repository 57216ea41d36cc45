// The LockContext a run receives (and the `ctx` of run()'s result) is an object user code logs:
// `console.log(ctx)`, `logger.debug({ ctx })` with a JSON logger such as pino. Whatever it
// prints must be its documented members, never the lock's owner token or the store's client
// (whose options carry the Redis password).
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  type LockContext,
  type LockedRunResult,
} from 'nestjs-cron-lock';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { uniquePrefix } from '../support/redis.js';

const PASSWORD = 'Ctx-Pw-3c9e71b05d';
const PREFIX = uniquePrefix('ctx-secrets');

/** The members the usage guide lists for LockContext (`signal` is read through a getter). */
const DOCUMENTED = ['extend', 'fencingToken', 'instanceId', 'name', 'scheduledAt', 'trigger'];

/**
 * What a logger prints for a value: Node's inspect at any depth, and JSON as loggers that cut
 * cycles write it (pino, winston's JSON format).
 */
function printed(value: unknown): string[] {
  const seen = new WeakSet<object>();
  const json = JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'object' && item !== null) {
      if (seen.has(item)) {
        return '[Circular]';
      }
      seen.add(item);
    }
    return item;
  });
  return [inspect(value), inspect(value, { depth: Infinity, showHidden: false }), json];
}

@Injectable()
class ReportJob {
  seen: { ctx: LockContext; token: string | null } | undefined;
  constructor(private readonly admin: Redis) {}

  @LockedCron('0 0 1 1 *', { name: 'ctx-report' })
  async report(ctx: LockContext): Promise<void> {
    this.seen = { ctx, token: await this.admin.get(`${PREFIX}:{ctx-report}:lock`) };
  }
}

let server: RedisServerHandle;
let admin: Redis;
let app: TestingModule;

beforeAll(async () => {
  server = await startRedisServer({ args: ['--requirepass', PASSWORD] });
  admin = new Redis(server.url, { password: PASSWORD, maxRetriesPerRequest: 1 });
  app = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({
        redis: `redis://:${PASSWORD}@127.0.0.1:${server.port}`,
        keyPrefix: PREFIX,
        logger: false,
      }),
    ],
    providers: [ReportJob, { provide: Redis, useValue: admin }],
  }).compile();
  await app.init();
});

afterAll(async () => {
  await app?.close();
  admin?.disconnect();
  await server?.stop();
});

function expectOnlyDocumented(ctx: LockContext, token: string | null): void {
  expect(token).toMatch(/^[0-9a-f]{32}$/);
  for (const text of printed(ctx)) {
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(token);
  }
  expect(Object.keys(ctx).sort()).toEqual(DOCUMENTED);
}

describe('the LockContext, as user code logs it', () => {
  it('shows the documented members of a run() context, and neither the owner token nor the Redis password', async () => {
    let token: string | null = null;
    const result: LockedRunResult<number> = await app
      .get(CronLockService)
      .run('ctx-manual', { ttl: '30s' }, async () => {
        token = await admin.get(`${PREFIX}:{ctx-manual}:lock`);
        return 1;
      });
    expect(result.ran).toBe(true);
    if (!result.ran) {
      return;
    }
    expectOnlyDocumented(result.ctx, token);
    for (const text of printed(result)) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(token);
    }
  });

  it('shows the documented members of a @LockedCron method context, and neither the owner token nor the Redis password', async () => {
    const job = app.get(ReportJob);
    await (job.report as () => Promise<unknown>)();
    expect(job.seen).toBeDefined();
    expectOnlyDocumented(job.seen!.ctx, job.seen!.token);
    expect(job.seen!.ctx.signal.aborted).toBe(false);
  });
});
