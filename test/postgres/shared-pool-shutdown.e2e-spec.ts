import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Module, type OnModuleDestroy } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { CronLockModule, LockedCron } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { waitFor } from '../support/redis.js';

const APP_POOL = Symbol('APP_POOL');
const application = `shared_pool_${randomBytes(4).toString('hex')}`;
/** What the app's database module ended, for the assertions. */
let appPool: pg.Pool | undefined;

/** The app's own pool, ended when its module is destroyed, as a Nest app's database module does. */
@Injectable()
class PoolCloser implements OnModuleDestroy {
  constructor(@Inject(APP_POOL) private readonly pool: pg.Pool) {}

  onModuleDestroy(): Promise<void> {
    return this.pool.end();
  }
}

@Module({
  providers: [
    {
      provide: APP_POOL,
      useFactory: () => {
        appPool = new pg.Pool({
          connectionString: testPostgresUrl(),
          application_name: application,
        });
        return appPool;
      },
    },
    PoolCloser,
  ],
  exports: [APP_POOL],
})
class DatabaseModule {}

@Injectable()
class YearlyJob {
  // Never due during the test: the app listens for triggers because it has a job.
  @LockedCron('0 0 1 1 *', { name: 'shared-pool-yearly' })
  run(): void {}
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

describe('PostgresLockStore on the pg Pool the app shares and ends itself', () => {
  it('lets the app close when its own module ends the pool on destroy, before the lock module shuts down', async () => {
    const admin = newPool();
    cleanup.push(() => admin.end());
    const table = uniqueTable('shared_pool');
    cleanup.push(() => dropTable(admin, table));
    const app = await Test.createTestingModule({
      imports: [
        DatabaseModule,
        ScheduleModule.forRoot(),
        CronLockModule.forRootAsync({
          imports: [DatabaseModule],
          inject: [APP_POOL],
          useFactory: (pool: pg.Pool) => ({
            store: new PostgresLockStore(pool, { table, logger: false }),
          }),
        }),
      ],
      providers: [YearlyJob],
    }).compile();
    await app.init();
    // The store listens for triggers on a connection of the app's pool.
    await waitFor(
      async () => {
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
          [application],
        );
        return rows[0]!.n === 1;
      },
      { timeout: 10_000, message: 'the store to listen for triggers on the app pool' },
    );

    // pool.end() waits for every connection lent out; the module gives back the listening one
    // only at its own shutdown, which Nest runs after every module's onModuleDestroy.
    const closing = app.close().then(() => 'closed' as const);
    let deadline: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      closing,
      new Promise<'still closing'>((resolve) => {
        deadline = setTimeout(() => resolve('still closing'), 10_000);
      }),
    ]);
    clearTimeout(deadline);
    expect(outcome).toBe('closed');
    expect(appPool?.ended).toBe(true);
    expect(appPool?.totalCount).toBe(0);
  });
});
