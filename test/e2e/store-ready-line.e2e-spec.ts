// The startup line that says which lock store an app uses: the store names itself, so the core
// names a backend it does not import.
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CronLockModule,
  MemoryLockStore,
  RedisLockStore,
  type AcquireRequest,
  type AcquireResult,
  type CronLockModuleOptions,
  type LockStore,
  type ReleaseRequest,
  type RenewRequest,
  type RenewResult,
  type StoredLockState,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { CapturingLogger } from '../support/capturing-logger.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { testRedisUrl } from '../support/redis.js';

/** A user's own store with only the required methods: it does not name itself. */
class OwnStore implements LockStore {
  private readonly inner = new MemoryLockStore();

  acquire(request: AcquireRequest): Promise<AcquireResult> {
    return this.inner.acquire(request);
  }
  renew(request: RenewRequest): Promise<RenewResult> {
    return this.inner.renew(request);
  }
  release(request: ReleaseRequest): Promise<boolean> {
    return this.inner.release(request);
  }
  inspect(name: string): Promise<StoredLockState> {
    return this.inner.inspect(name);
  }
  ping(): Promise<number> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('the "Lock store ready" line', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) {
      await undo().catch(() => undefined);
    }
  });

  /** Boots an app on `options` and answers its startup line naming the store. */
  async function readyLine(options: CronLockModuleOptions): Promise<string | undefined> {
    const logger = new CapturingLogger();
    const module: TestingModule = await Test.createTestingModule({
      imports: [CronLockModule.forRoot({ ...options, logger })],
    }).compile();
    cleanup.push(() => module.close());
    await module.init();
    return logger.lines.find((line) => line.message.startsWith('Lock store ready'))?.message;
  }

  it('says postgresql for a PostgresLockStore', async () => {
    const table = uniqueTable('ready_line');
    const admin = newPool();
    cleanup.push(() => admin.end());
    cleanup.push(() => dropTable(admin, table));
    const store = new PostgresLockStore(testPostgresUrl(), { table, logger: false });
    cleanup.push(() => store.close());

    expect(await readyLine({ store })).toMatch(/^Lock store ready \(postgresql, round trip /);
  });

  it('says redis for a RedisLockStore passed as store, as for the redis option', async () => {
    const store = new RedisLockStore(testRedisUrl(), { logger: false });
    cleanup.push(() => store.close());

    expect(await readyLine({ store })).toMatch(/^Lock store ready \(redis, round trip /);
    expect(await readyLine({ redis: testRedisUrl() })).toMatch(
      /^Lock store ready \(redis, round trip /,
    );
  });

  it('says custom for a store of its own that does not name itself', async () => {
    expect(await readyLine({ store: new OwnStore() })).toMatch(
      /^Lock store ready \(custom, round trip /,
    );
  });
});
