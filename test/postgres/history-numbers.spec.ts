// The PostgreSQL store numbers each job's history entries on the job's row (`history_seq`): every
// writer takes its numbers from the row it has locked and moves them, and trims the range of
// numbers below the newest `historySize`. These specs pin every writer on a real server: several
// instances writing one job's history at once (runs' releases, paused claims through the function
// and through the statement kept for `overlap: 'queue'`), a size lowered by another instance, a row
// re-created after a sweep (by a release, an acquisition, registerJob, pause or a plain lock), and
// a table of an earlier build whose entries have no number (0) and stay so until trimmed.
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type { AcquireRequest, ReleaseRequest } from 'nestjs-cron-lock';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

const BASE = Date.UTC(2025, 0, 15, 10, 0, 0);

function subject(label: string): { pool: pg.Pool; table: string; store: () => PostgresLockStore } {
  const pool = newPool({ max: 12 });
  cleanup.push(() => pool.end());
  const table = uniqueTable(label);
  cleanup.push(() => dropTable(pool, table));
  return {
    pool,
    table,
    store: () => {
      const store = new PostgresLockStore(pool, { table, logger: false });
      cleanup.push(() => store.close());
      return store;
    },
  };
}

/** An acquisition of job `job`'s occurrence `at` by instance `instanceId`, with a history. */
function claim(
  token: string,
  at: number,
  instanceId: string,
  historySize: number,
  overlap?: 'queue',
): AcquireRequest {
  return {
    name: 'job',
    token,
    ttl: 60_000,
    scheduledAt: at,
    instanceId,
    historySize,
    ...(overlap ? { overlap } : {}),
  };
}

function runRelease(name: string, token: string, historySize: number, at: number): ReleaseRequest {
  return {
    name,
    token,
    historySize,
    outcome: {
      status: 'completed',
      durationMs: 5,
      finishedAt: at + 10,
      run: {
        scheduledAt: at,
        startedAt: at,
        fencingToken: 1,
        instanceId: 'i1',
        trigger: 'schedule',
        outcome: 'completed',
        error: null,
      },
    },
  };
}

interface Numbers {
  seqs: number[];
  ids: number[];
  rowSeq: number | null;
}

/** The job's entries' numbers (oldest first by id) and the number on its row. */
async function numbers(pool: pg.Pool, table: string, name: string): Promise<Numbers> {
  const entries = await pool.query<{ seq: string; id: string }>(
    `SELECT seq, id FROM public.${table}_history WHERE name = $1 ORDER BY id`,
    [name],
  );
  const row = await pool.query<{ history_seq: string }>(
    `SELECT history_seq FROM public.${table} WHERE name = $1`,
    [name],
  );
  return {
    seqs: entries.rows.map((r) => Number(r.seq)),
    ids: entries.rows.map((r) => Number(r.id)),
    rowSeq: row.rows[0] ? Number(row.rows[0].history_seq) : null,
  };
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

describe('PostgresLockStore history entries numbered on the job row', () => {
  it('keeps at most historySize entries after each write of several instances writing one job at once, numbered uniquely in the order written, the newest kept', async () => {
    const { pool, table, store } = subject('hist_conc');
    const SIZE = 4;
    const ROUNDS = 25;
    const stores = [store(), store(), store(), store()];
    await stores[0].pause('job', { reason: null, until: null });
    let tick = BASE;
    let written = 0;
    const overflows: string[] = [];
    const check = async (who: string): Promise<void> => {
      const { seqs } = await numbers(pool, table, 'job');
      if (seqs.length > SIZE) {
        overflows.push(`${who}: ${seqs.length} entries`);
      }
    };
    // Two instances release runs (the release function), one claims paused occurrences through
    // the acquire function, one through the statement kept for overlap 'queue'.
    const writers = stores.map(async (s, w) => {
      for (let i = 0; i < ROUNDS; i++) {
        const at = (tick += 60_000);
        if (w < 2) {
          await s.release(runRelease('job', `t${w}-${i}`, SIZE, at));
          written += 1;
        } else {
          const answer = await s.acquire(
            claim(`t${w}-${i}`, at, `i${w}`, SIZE, w === 3 ? 'queue' : undefined),
          );
          if (!answer.acquired && answer.reason === 'paused') {
            written += 1;
          }
        }
        await check(`writer ${w} write ${i}`);
      }
    });
    await Promise.all(writers);
    expect(overflows).toEqual([]);
    const { seqs, ids, rowSeq } = await numbers(pool, table, 'job');
    expect(rowSeq).toBe(written);
    // The newest SIZE numbers, each once, increasing in the order the entries were written.
    expect(seqs).toEqual(range(written - SIZE + 1, written));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const history = await stores[0].history('job', SIZE);
    expect(history).toHaveLength(SIZE);
  });

  it('keeps at most historySize entries when many instances write while the statement kept for overlap queue waits for the row', async () => {
    const { pool, table, store } = subject('hist_wait');
    const SIZE = 2;
    const ROUNDS = 30;
    const stores = Array.from({ length: 7 }, () => store());
    await stores[0].pause('job', { reason: null, until: null });
    let tick = BASE;
    const overflows: string[] = [];
    await Promise.all(
      stores.map(async (s, w) => {
        for (let i = 0; i < ROUNDS; i++) {
          const at = (tick += 60_000);
          if (w < 5) {
            await s.release(runRelease('job', `t${w}-${i}`, SIZE, at));
          } else {
            await s.acquire(claim(`t${w}-${i}`, at, `i${w}`, SIZE, 'queue'));
          }
          const { seqs } = await numbers(pool, table, 'job');
          if (seqs.length > SIZE) {
            overflows.push(`writer ${w} write ${i}: ${seqs.join(' ')}`);
          }
        }
      }),
    );
    const { seqs } = await numbers(pool, table, 'job');
    expect({ overflows: overflows.slice(0, 5), seqs }).toEqual({
      overflows: [],
      seqs: seqs.slice(-SIZE),
    });
  });

  it('keeps the run entry alone of a release with missed occurrences under historySize 1, numbered on from the last', async () => {
    const { pool, table, store } = subject('hist_one');
    const writer = store();
    await writer.release(runRelease('job', 'r0', 1, BASE));
    const release = runRelease('job', 'r1', 1, BASE + 180_000);
    await writer.release({ ...release, missed: [BASE + 60_000, BASE + 120_000] });
    expect(await numbers(pool, table, 'job')).toMatchObject({ seqs: [2], rowSeq: 2 });
    const [entry] = await writer.history('job', 10);
    expect(entry).toMatchObject({ kind: 'run', scheduledAt: BASE + 180_000 });
  });

  it('trims to the size of the instance writing, whatever size another instance wrote last', async () => {
    const { pool, table, store } = subject('hist_size');
    const big = store();
    const small = store();
    let at = BASE;
    for (let i = 0; i < 8; i++) {
      await big.release(runRelease('job', `b${i}`, 8, (at += 60_000)));
    }
    expect((await numbers(pool, table, 'job')).seqs).toEqual(range(1, 8));
    await small.release(runRelease('job', 's0', 3, (at += 60_000)));
    expect((await numbers(pool, table, 'job')).seqs).toEqual(range(7, 9));
    await big.release(runRelease('job', 'b8', 8, (at += 60_000)));
    expect((await numbers(pool, table, 'job')).seqs).toEqual(range(7, 10));
    // A paused claim with the smaller size after the larger one.
    await big.pause('job', { reason: null, until: null });
    await small.acquire({
      name: 'job',
      token: 'p1',
      ttl: 60_000,
      scheduledAt: at + 60_000,
      instanceId: 'i2',
      historySize: 2,
    });
    expect((await numbers(pool, table, 'job')).seqs).toEqual(range(10, 11));
  });

  it('numbers the entries of a row re-created after a sweep on from the job newest, never reusing one', async () => {
    const { pool, table, store } = subject('hist_swept');
    const s = store();
    let at = BASE;
    for (let i = 0; i < 5; i++) {
      await s.release(runRelease('job', `r${i}`, 3, (at += 60_000)));
    }
    expect((await numbers(pool, table, 'job')).seqs).toEqual(range(3, 5));
    // The row swept while its entries live on: the release re-creates it.
    await pool.query(`DELETE FROM public.${table} WHERE name = 'job'`);
    await s.release(runRelease('job', 'r5', 3, (at += 60_000)));
    expect(await numbers(pool, table, 'job')).toMatchObject({ seqs: range(4, 6), rowSeq: 6 });
    // Swept again, re-created by an acquisition this time, then a paused claim writes.
    await pool.query(`DELETE FROM public.${table} WHERE name = 'job'`);
    const taken = await s.acquire({
      name: 'job',
      token: 'a1',
      ttl: 60_000,
      scheduledAt: (at += 60_000),
      instanceId: 'i1',
      historySize: 3,
    });
    expect(taken.acquired).toBe(true);
    expect((await numbers(pool, table, 'job')).rowSeq).toBe(6);
    await s.release(runRelease('job', 'a1', 3, at));
    expect((await numbers(pool, table, 'job')).seqs).toEqual(range(5, 7));
  });

  it('numbers the entries of a row re-created after a sweep by registerJob, pause or a plain lock on from the job newest, so history() answers the newest runs', async () => {
    const { pool, table, store } = subject('hist_recreate');
    const s = store();
    let at = BASE;
    const recreations: Array<[string, () => Promise<unknown>]> = [
      ['registerJob', () => s.registerJob('job', { cron: '* * * * *', timeZone: null })],
      ['pause', () => s.pause('job', { reason: null, until: null })],
      [
        'plain',
        () => s.acquire({ name: 'job', token: 'p0', ttl: 1, instanceId: 'i1', plain: true }),
      ],
    ];
    const written: number[] = [];
    for (let i = 0; i < 3; i++) {
      written.push((at += 60_000));
      await s.release(runRelease('job', `r${i}`, 3, at));
    }
    let newest = 3;
    for (const [how, recreate] of recreations) {
      // The row swept while its entries live on, then re-created without a history write.
      await pool.query(`DELETE FROM public.${table} WHERE name = 'job'`);
      await recreate();
      expect({ how, rowSeq: (await numbers(pool, table, 'job')).rowSeq }).toEqual({
        how,
        rowSeq: newest,
      });
      await pool.query(`UPDATE public.${table} SET paused_at = NULL, expires_at = NULL`);
      for (let i = 0; i < 3; i++) {
        written.push((at += 60_000));
        await s.release(runRelease('job', `${how}${i}`, 3, at));
      }
      newest += 3;
      expect({ how, seqs: (await numbers(pool, table, 'job')).seqs }).toEqual({
        how,
        seqs: range(newest - 2, newest),
      });
      const history = await s.history('job', 3);
      expect({ how, at: history.map((e) => ('scheduledAt' in e ? e.scheduledAt : null)) }).toEqual({
        how,
        at: written.slice(-3).reverse(),
      });
    }
  });

  it('reads the entries of a table an earlier build made after the new ones, in the order written, and trims them once historySize new entries were written', async () => {
    const { pool, table, store } = subject('hist_upgrade');
    const first = store();
    let at = BASE;
    const written: number[] = [];
    const write = async (s: PostgresLockStore, token: string): Promise<void> => {
      written.push((at += 60_000));
      await s.release(runRelease('job', token, 5, at));
    };
    const read = async (s: PostgresLockStore): Promise<Array<number | null>> =>
      (await s.history('job', 20)).map((e) => ('scheduledAt' in e ? e.scheduledAt : null));
    for (let i = 0; i < 5; i++) {
      await write(first, `r${i}`);
      await first.release(runRelease('other', `o${i}`, 5, (at += 60_000)));
    }
    await first.close();
    // The table as an earlier build made it: no numbers on the rows or the entries.
    await pool.query(`ALTER TABLE public.${table} DROP COLUMN history_seq, DROP COLUMN history_low;
      ALTER TABLE public.${table}_history DROP COLUMN seq`);
    const upgraded = store();
    await write(upgraded, 'r5');
    // The upgrade numbers nothing: the earlier entries stay at 0, the oldest.
    expect(await numbers(pool, table, 'job')).toMatchObject({
      seqs: [0, 0, 0, 0, 0, 1],
      rowSeq: 1,
    });
    expect(await numbers(pool, table, 'other')).toMatchObject({ seqs: [0, 0, 0, 0, 0], rowSeq: 0 });
    for (let i = 6; i < 9; i++) {
      await write(upgraded, `r${i}`);
    }
    // Up to 2 x historySize - 1 entries until the trim's range reaches 0, read newest first.
    expect((await numbers(pool, table, 'job')).seqs).toEqual([0, 0, 0, 0, 0, 1, 2, 3, 4]);
    expect(await read(upgraded)).toEqual([...written].reverse());
    await write(upgraded, 'r9');
    expect((await numbers(pool, table, 'job')).seqs).toEqual(range(1, 5));
    expect(await read(upgraded)).toEqual(written.slice(-5).reverse());
  });
});
