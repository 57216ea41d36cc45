// Each acquisition that fails while PostgreSQL is down leaves a release to send again until the
// store answers it (see "A lost acquire reply outlives a frozen Redis"): a busy app's outage
// leaves thousands. When the store comes back, they must not all go at once: on a pool of 10,
// each waits for a connection within `operationTimeout`, so the last ones time out and are kept
// for the next round, and the app's own acquisitions, queued behind them, fail and skip live
// occurrences as `store-error` although the store answers again. They must go a few at a time,
// and each still be sent until it is answered.
import { Injectable } from '@nestjs/common';
import {
  LockedCron,
  type AcquireRequest,
  type CronLockService,
  type LockStore,
  type ReleaseRequest,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CronApps } from '../support/cron-apps.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres-server.js';
import { uniqueTable } from '../support/postgres.js';
import { waitFor } from '../support/redis.js';

/**
 * Acquisitions failed during the outage: 300 jobs a minute through a 25-minute outage, below the
 * 10,000 releases an app keeps, so that none gives way.
 */
const FAILED_DURING_OUTAGE = 8_000;
/** A default `pg` pool's size. */
const POOL_SIZE = 10;
/**
 * Acquisitions in flight at once during the outage: the pool's size, so that each gets a
 * connection attempt (refused at once) within its `operationTimeout`, however slow the machine.
 */
const AT_ONCE = POOL_SIZE;

@Injectable()
class EverySecond {
  @LockedCron('* * * * * *', { name: 'every-second', ttl: '30s' })
  tick(): void {}
}

/**
 * Watches the store's acquisitions that failed and their releases: which failed, which were
 * answered, how many at once.
 */
class CountedStore {
  readonly failedAcquisitions = new Set<string>();
  readonly answeredReleases = new Set<string>();
  readonly failedReleases = new Set<string>();
  releasesInFlight = 0;
  /** Most releases in flight at once since {@link watchFromNow}. */
  maxReleasesInFlight = 0;
  /** Releases sent since {@link watchFromNow} that failed. */
  releasesFailed = 0;
  releasesAnswered = 0;
  private watching = false;

  watchFromNow(): void {
    this.watching = true;
    this.maxReleasesInFlight = this.releasesInFlight;
  }

  wrap(store: LockStore): LockStore {
    return new Proxy(store, {
      get: (target, key, receiver) => {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        const method = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
        if (key === 'acquire') {
          return async (request: AcquireRequest) => {
            try {
              return await method(request);
            } catch (error) {
              this.failedAcquisitions.add(request.token);
              throw error;
            }
          };
        }
        if (key === 'release') {
          return async (request: ReleaseRequest) => {
            // Only the releases of failed acquisitions: not those of the runs that ran.
            if (!this.failedAcquisitions.has(request.token)) return method(request);
            const watched = this.watching;
            this.releasesInFlight++;
            this.maxReleasesInFlight = Math.max(this.maxReleasesInFlight, this.releasesInFlight);
            try {
              const released = await method(request);
              this.answeredReleases.add(request.token);
              this.releasesAnswered++;
              return released;
            } catch (error) {
              this.failedReleases.add(request.token);
              if (watched) this.releasesFailed++;
              throw error;
            } finally {
              this.releasesInFlight--;
            }
          };
        }
        return method;
      },
    });
  }
}

describe('releases kept through a PostgreSQL outage, when it comes back (pool of 10)', () => {
  const apps = new CronApps();
  const counted = new CountedStore();
  let server: PostgresServerHandle;
  let pool: pg.Pool;
  let locks: CronLockService;
  const storeErrors: Array<{ name: string; scheduledAt: number }> = [];
  const completed: Array<{ name: string; scheduledAt: number }> = [];

  beforeAll(async () => {
    // A server of this file's own: stopping it must not disturb the other test files.
    server = await startPostgresServer();
    pool = new pg.Pool({ connectionString: server.url, max: POOL_SIZE });
    // Idle connections die with the server; the pool drops them and connects anew.
    pool.on('error', () => undefined);
    const store = new PostgresLockStore(pool, { table: uniqueTable('outage'), logger: false });
    locks = await apps.boot({ store: counted.wrap(store), logger: false }, [EverySecond], (l) => {
      l.on('skipped', (event) => {
        if (event.reason === 'store-error') {
          storeErrors.push({ name: event.name, scheduledAt: event.scheduledAt?.getTime() ?? 0 });
        }
      });
      l.on('completed', (event) => {
        completed.push({ name: event.name, scheduledAt: event.scheduledAt?.getTime() ?? 0 });
      });
    });
    expect((await locks.run('warm-up', {}, () => 'ran')).ran).toBe(true);
  });

  afterAll(async () => {
    await apps.closeAll();
    await pool?.end();
    await server?.stop();
  });

  it("sends them a few at a time, each until answered, while the app's own locks and ticks go on", async () => {
    await server.halt();
    // A few at a time: an acquisition should fail with the refusal, not past the pool's deadline
    // (one that got no connection in time sent nothing, and its release is answered without a
    // statement: it is never kept). Hundreds at once queued on the pool behind one another and
    // behind their releases, which go first, and on a loaded machine the last ones waited past
    // their deadline.
    let next = 0;
    let target = FAILED_DURING_OUTAGE;
    const ranDuringOutage: string[] = [];
    const acquireUntilTarget = () =>
      Promise.all(
        Array.from({ length: AT_ONCE }, async () => {
          while (next < target) {
            const i = next++;
            const result = await locks.run(`sync:${i % 50}`, { ttl: '1m' }, () => 'never');
            if (result.ran) ranDuringOutage.push(`sync:${i % 50}`);
          }
        }),
      );
    // Each failed acquisition sends its release at once, and it fails: kept, it waits for a
    // round. (In an outage of an app's ticks those come one at a time, not in a burst.) But an
    // acquisition that got no pooled connection within its deadline sent nothing, and its release
    // is answered without a statement: never kept. On a loaded machine a few of them wait that
    // long; more acquisitions make up for them, until as many releases as the outage should leave
    // are kept. The deadlines only bound a failing wait: thousands of refused connections take
    // long on a loaded machine.
    let kept: string[] = [];
    for (let round = 1; kept.length < FAILED_DURING_OUTAGE; round++) {
      if (round > 3) {
        throw new Error(`only ${kept.length} releases kept after ${next} failed acquisitions`);
      }
      await acquireUntilTarget();
      const failed = [...counted.failedAcquisitions];
      await waitFor(
        () =>
          failed.every(
            (token) => counted.failedReleases.has(token) || counted.answeredReleases.has(token),
          ),
        { timeout: 60_000, message: 'the release of every failed acquisition sent' },
      ).catch((error: Error) => {
        const count = (tokens: Set<string>) => failed.filter((token) => tokens.has(token)).length;
        throw new Error(
          `${error.message}: ${count(counted.failedReleases)} of ${failed.length} sent and ` +
            `failed, and ${count(counted.answeredReleases)} answered without a statement (never sent)`,
        );
      });
      kept = failed.filter((token) => counted.failedReleases.has(token));
      target = next + FAILED_DURING_OUTAGE - kept.length;
    }
    expect(ranDuringOutage).toEqual([]);
    // Those kept are the ones to send again: each must be answered once the store is back.
    const pending = kept;

    await server.start();
    // The store answers again from its first answered release on: from then on, whatever the
    // app sends must get a connection.
    const answeredBefore = counted.releasesAnswered;
    await waitFor(() => counted.releasesAnswered > answeredBefore, {
      timeout: 60_000,
      interval: 5,
      message: 'a first release answered after PostgreSQL came back',
    });
    const back = Date.now();
    counted.watchFromNow();

    // Locks the app takes, one after another, while the releases drain: each gets a connection
    // of its own, not one behind the thousands of releases queued on the pool.
    const live: string[] = [];
    const releasesWhileWaiting: number[] = [];
    const drained = (): boolean => pending.every((token) => counted.answeredReleases.has(token));
    const deadline = Date.now() + 60_000;
    while (!drained() || live.length < 5) {
      if (Date.now() > deadline) {
        throw new Error('releases kept through the outage still unanswered after 60 s');
      }
      const before = counted.releasesAnswered;
      const result = await locks.run(`checkout:${live.length}`, { ttl: '1m' }, () => 'ran');
      live.push(result.ran ? 'ran' : result.reason);
      releasesWhileWaiting.push(counted.releasesAnswered - before);
      // Paced as an app's own locks are, not back to back.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Every release kept through the outage was sent until the store answered it, and every lock
    // the app took meanwhile ran.
    expect(live.filter((outcome) => outcome !== 'ran')).toEqual([]);
    // All at once, the pool lends connections in turn: a lock taken while the releases drain
    // gets one only after the thousands queued before it had theirs (or gave up).
    expect(Math.max(...releasesWhileWaiting)).toBeLessThan(FAILED_DURING_OUTAGE / 10);
    // Occurrences of the per-second job after the store came back run, none skipped for a
    // store that answers.
    await waitFor(
      () =>
        completed.filter((run) => run.name === 'every-second' && run.scheduledAt > back).length >=
        2,
      { timeout: 30_000, message: 'two occurrences of the per-second job run after the return' },
    );
    expect(storeErrors.filter((skip) => skip.scheduledAt > back)).toEqual([]);
    // A few at a time: none waited for a connection past its deadline to be kept again.
    expect(counted.releasesFailed).toBe(0);
    expect(counted.maxReleasesInFlight).toBeLessThanOrEqual(4);
  }, 240_000);
});
