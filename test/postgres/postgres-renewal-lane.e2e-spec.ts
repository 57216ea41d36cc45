// A lock held through a tick with many jobs due on PostgreSQL: every acquisition of the tick waits
// for one of the pool's few connections, and the held lock's renewal must not wait behind them
// all, or a healthy job is told its lock was lost while the database answers every statement.
import { Test } from '@nestjs/testing';
import { CronLockModule, CronLockService, type LockedRunResult } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';

/** Jobs due at once: on a pool of 2, each of their statements held back by the table's trigger. */
const BURST = 80;

describe('a held PostgreSQL lock while a burst of acquisitions fills the pool', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) {
      await undo().catch(() => undefined);
    }
  });

  /**
   * A store on a pool of 2 whose table makes every statement writing a `burst-` row take 40 ms
   * on the server, as round trips to a distant database do: the burst then keeps the pool busy
   * for seconds whatever the speed of the machine, and other rows are written at once.
   */
  async function slowBurstStore(): Promise<{ store: PostgresLockStore; admin: pg.Pool }> {
    const admin = newPool();
    const pool = newPool({ max: 2 });
    const table = uniqueTable('renew_lane');
    cleanup.push(() => admin.end());
    cleanup.push(() => pool.end());
    cleanup.push(() => admin.query(`DROP FUNCTION IF EXISTS public.${table}_slow()`));
    cleanup.push(() => dropTable(admin, table));
    // Long enough that no acquisition of the burst runs out of time: each one is counted.
    const store = new PostgresLockStore(pool, { table, operationTimeout: 60_000, logger: false });
    await store.ping(); // creates the table
    await admin.query(`CREATE FUNCTION public.${table}_slow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name LIKE 'burst-%' THEN PERFORM pg_sleep(0.04); END IF;
        RETURN NEW;
      END $$`);
    await admin.query(`CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON public.${table}
      FOR EACH ROW EXECUTE FUNCTION public.${table}_slow()`);
    return { store, admin };
  }

  it('keeps renewing a long job through the burst: no lock lost, the job completes, every job of the burst runs', async () => {
    const { store } = await slowBurstStore();
    const module = await Test.createTestingModule({
      imports: [CronLockModule.forRoot({ store, logger: false })],
    }).compile();
    cleanup.push(() => module.close());
    await module.init();
    const locks = module.get(CronLockService);
    const lost: string[] = [];
    const renewed: string[] = [];
    locks.on('lost', ({ name, reason }) => lost.push(`${name}: ${reason}`));
    locks.on('renewed', ({ name }) => renewed.push(name));

    let burst: LockedRunResult<string>[] = [];
    // A ttl of 1.2 s renews every 400 ms; the burst's 160 statements (an acquire and a release
    // each) keep both connections busy for at least 3.2 s, so the renewals all fall within it.
    const long = await locks.run('long', { ttl: 1_200 }, async (ctx) => {
      burst = await Promise.all(
        Array.from({ length: BURST }, (_, i) => locks.run(`burst-${i}`, {}, () => 'ran')),
      );
      return ctx.signal.aborted ? 'aborted' : 'completed';
    });

    expect(lost).toEqual([]);
    expect(long).toMatchObject({ ran: true, value: 'completed' });
    expect(renewed.filter((name) => name === 'long').length).toBeGreaterThanOrEqual(2);
    expect(burst.filter((result) => result.ran).length).toBe(BURST);
  });
});
