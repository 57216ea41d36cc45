import type { Pool, PoolClient } from 'pg';
import type { PostgresPool } from './postgres-connection.js';

/** `pg`'s own default `max`, for a pool that does not say its size. */
const DEFAULT_POOL_SIZE = 10;

/** One operation waiting for its turn on the pool. */
interface Waiter {
  /** Past it (`performance.now()`), the operation's caller has been answered: skip it. */
  readonly deadline: number;
  readonly go: () => void;
}

/** A first-come queue that drops from its head in constant time. */
class Queue {
  private items: Waiter[] = [];
  private head = 0;

  push(waiter: Waiter): void {
    this.items.push(waiter);
  }

  shift(): Waiter | undefined {
    const waiter = this.items[this.head];
    if (waiter === undefined) {
      return undefined;
    }
    this.head += 1;
    if (this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return waiter;
  }
}

/**
 * The store's operations in order of urgency for the pool's connections: a held lock's renewal
 * first (missing its deadline aborts a healthy run), then a release, then everything else
 * (acquisitions, reads, setup).
 *
 * `pg`'s pool lends connections first come, first served. Without this, a renewal sent while a
 * tick's jobs were all acquiring (hundreds on a pool of 10) waited for every acquisition queued
 * before it, and past its ttl the runner declared the lock lost and aborted a run that was fine,
 * on a database that answered every statement. So the store lends itself at most the pool's
 * `max` connections at once, and when they are all taken the next one goes to the most urgent
 * waiter: a renewal waits for one statement to end, never for a queue.
 *
 * Each lane is a pool for `runStatement`: `connect()` waits for a turn, then for a connection of
 * the pool, and the turn passes on when the connection is released (or destroyed). The wait for a
 * turn is part of the operation's `operationTimeout` (see connectWithin): a waiter still queued at
 * its deadline is skipped, never lent a connection its caller no longer wants.
 */
export class ConnectionLanes {
  readonly renew: PostgresPool;
  readonly release: PostgresPool;
  readonly others: PostgresPool;
  private readonly size: number;
  /** Waiting operations, most urgent lane first. */
  private readonly waiting = [new Queue(), new Queue(), new Queue()];
  private inUse = 0;

  constructor(
    /** The pool itself, for what the lanes do not cover (the trigger channel's listener). */
    readonly pool: PostgresPool,
    private readonly timeout: number,
  ) {
    const max = (pool as Partial<Pick<Pool, 'options'>>).options?.max;
    this.size = typeof max === 'number' && max >= 1 ? max : DEFAULT_POOL_SIZE;
    this.renew = this.lane(0);
    this.release = this.lane(1);
    this.others = this.lane(2);
  }

  private lane(urgency: number): PostgresPool {
    const { pool, size } = this;
    const full = (): boolean => this.inUse >= size;
    const view = {
      connect: () => this.connect(urgency),
      end: () => pool.end(),
      options: { max: size },
      // What connectWithin's message reads: a pool whose turns are all taken is full to the store.
      get totalCount(): number | undefined {
        return full() ? size : (pool as Partial<Pick<Pool, 'totalCount'>>).totalCount;
      },
    };
    // Only the promise form of `connect()` is used by the store (runStatement).
    return view as unknown as PostgresPool;
  }

  /**
   * A turn, then a connection. Not an async function: with a turn free (the usual case) the
   * connection is asked for at once, with no promise of its own for the turn and no suspended
   * frame, on every statement the store sends.
   */
  private connect(urgency: number): Promise<PoolClient> {
    if (this.inUse < this.size) {
      this.inUse += 1;
      return this.checkout();
    }
    return new Promise<void>((go) => {
      this.waiting[urgency]!.push({ deadline: performance.now() + this.timeout, go });
    }).then(() => this.checkout());
  }

  /** A connection of the pool for a turn taken: the turn passes on when it is released. */
  private checkout(): Promise<PoolClient> {
    let connecting: Promise<PoolClient>;
    try {
      connecting = this.pool.connect();
    } catch (error) {
      this.passOn();
      return Promise.reject(error);
    }
    return connecting.then(
      (client) => {
        // `pg` sets `release` anew on each checkout; put back as it was, for a pool that does not.
        const release = client.release;
        client.release = (destroy?: boolean | Error) => {
          client.release = release;
          this.passOn();
          release.call(client, destroy);
        };
        return client;
      },
      (error: unknown) => {
        this.passOn();
        throw error;
      },
    );
  }

  /** Hands the turn of a released connection to the most urgent live waiter, or frees it. */
  private passOn(): void {
    const now = performance.now();
    for (const queue of this.waiting) {
      for (let waiter = queue.shift(); waiter !== undefined; waiter = queue.shift()) {
        if (waiter.deadline > now) {
          waiter.go();
          return;
        }
        // Its caller was answered at the deadline: its promise is left unsettled, and dropped.
      }
    }
    this.inUse -= 1;
  }
}
