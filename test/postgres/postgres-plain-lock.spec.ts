// The plain-lock path of PostgresLockStore (one upsert, one owner-checked update): what it writes
// and leaves alone in the job's row, its fencing tokens against a stored fence ahead of the
// database clock and after a lost row, and its one statement per operation.
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { newToken } from '../contract/lock-store.contract.js';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';

const MINUTE = 60_000;
const OCCURRENCE = Date.UTC(2025, 0, 15, 10, 0, 0);

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

interface Subject {
  pool: pg.Pool;
  table: string;
  store: PostgresLockStore;
}

function subject(): Subject {
  const pool = newPool();
  cleanup.push(() => pool.end());
  const table = uniqueTable('plain');
  cleanup.push(() => dropTable(pool, table));
  const store = new PostgresLockStore(pool, { table, logger: false });
  cleanup.push(() => store.close());
  return { pool, table, store };
}

async function takePlain({ store }: Subject, name = 'job'): Promise<number> {
  const token = newToken();
  const result = await store.acquire({ name, token, ttl: MINUTE, instanceId: 'a', plain: true });
  if (!result.acquired) throw new Error(`plain acquisition refused: ${result.reason}`);
  expect(await store.release({ name, token, plain: true })).toBe(true);
  return result.fencingToken;
}

/** The job's row as stored, every column as text. */
async function row({ pool, table }: Subject, name = 'job'): Promise<Record<string, unknown>> {
  const { rows } = await pool.query(`SELECT * FROM "${table}" WHERE name = $1`, [name]);
  return rows[0] as Record<string, unknown>;
}

async function historyCount({ pool, table }: Subject): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${table}_history"`);
  return Number(rows[0]?.n);
}

describe('PostgresLockStore plain locks', () => {
  it('writes only the lock and its fencing token, leaving the record of earlier runs as it was', async () => {
    const s = subject();
    const recorded = newToken();
    const claimed = await s.store.acquire({
      name: 'job',
      token: recorded,
      ttl: MINUTE,
      instanceId: 'recorder',
      scheduledAt: OCCURRENCE,
      historySize: 10,
    });
    if (!claimed.acquired) throw new Error(`recorded acquisition refused: ${claimed.reason}`);
    const finishedAt = Date.now();
    const outcome = {
      status: 'completed' as const,
      durationMs: 5,
      finishedAt,
      run: {
        scheduledAt: OCCURRENCE,
        startedAt: finishedAt - 5,
        fencingToken: claimed.fencingToken,
        instanceId: 'recorder',
        trigger: 'schedule' as const,
        outcome: 'completed' as const,
        error: null,
      },
    };
    await s.store.release({ name: 'job', token: recorded, outcome, historySize: 10 });
    const before = await row(s);
    const entries = await historyCount(s);
    expect(entries).toBe(1);

    const token = newToken();
    const plain = await s.store.acquire({
      name: 'job',
      token,
      ttl: MINUTE,
      instanceId: 'plain-instance',
      plain: true,
      historySize: 10,
    });
    if (!plain.acquired) throw new Error(`plain acquisition refused: ${plain.reason}`);
    const held = await row(s);
    expect(held).toMatchObject({ token, holder: null, fence: String(plain.fencingToken) });
    const { token: _t, holder: _h, fence: _f, expires_at: _e, ...kept } = before;
    expect(held).toMatchObject(kept);
    // Held, and shown so, without naming a holder.
    expect(await s.store.inspect('job')).toMatchObject({ holder: null, lastTick: OCCURRENCE });
    expect((await s.store.inspect('job')).ttlLeft).toBeGreaterThan(0);

    expect(await s.store.release({ name: 'job', token, plain: true, historySize: 10 })).toBe(true);
    expect(await row(s)).toMatchObject({ ...kept, token: null, expires_at: null, holder: null });
    expect(await historyCount(s)).toBe(entries);
  });

  it('creates one row for a new name and frees it in place, with no history', async () => {
    const s = subject();
    const fence = await takePlain(s, 'fresh');
    expect(await row(s, 'fresh')).toMatchObject({
      token: null,
      holder: null,
      expires_at: null,
      tick: null,
      ok_at: null,
      outcome: null,
      fence: String(fence),
    });
    expect(await historyCount(s)).toBe(0);
  });

  it('hands out a plain token above a stored fence that ran ahead of the database clock', async () => {
    // A clock stepped back, or a failover to a server whose clock is behind, leaves the stored
    // fence above the clock: the plain path must count on from it.
    const s = subject();
    await takePlain(s);
    const { rows } = await s.pool.query<{ ahead: string }>(
      `UPDATE "${s.table}" SET fence = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint + 3600000000
       WHERE name = 'job' RETURNING fence AS ahead`,
    );
    const ahead = Number(rows[0]?.ahead);
    const fence = await takePlain(s);
    expect(Number.isSafeInteger(fence)).toBe(true);
    expect(fence).toBe(ahead + 1);
    expect(await takePlain(s)).toBe(ahead + 2);
  });

  it('hands out a greater plain token after the row was lost', async () => {
    const s = subject();
    const before = await takePlain(s);
    await s.pool.query(`DELETE FROM "${s.table}"`);
    const after = await takePlain(s);
    expect(after).toBeGreaterThan(before);
    const next = await s.store.acquire({
      name: 'job',
      token: newToken(),
      ttl: MINUTE,
      instanceId: 'a',
    });
    expect(next.acquired).toBe(true);
    if (next.acquired) expect(next.fencingToken).toBeGreaterThan(after);
  });

  it('sends one statement per plain acquire, refusal and release', async () => {
    const s = subject();
    await takePlain(s); // the table is checked (and created) on first use
    let checkouts = 0;
    s.pool.on('acquire', () => checkouts++);
    const token = newToken();
    const taken = await s.store.acquire({
      name: 'job',
      token,
      ttl: MINUTE,
      instanceId: 'a',
      plain: true,
    });
    expect(taken.acquired).toBe(true);
    expect(
      await s.store.acquire({
        name: 'job',
        token: newToken(),
        ttl: MINUTE,
        instanceId: 'b',
        plain: true,
      }),
    ).toEqual({ acquired: false, reason: 'held' });
    expect(await s.store.release({ name: 'job', token, plain: true })).toBe(true);
    expect(checkouts).toBe(3);
  });
});
