import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import { LockStoreError } from '../../cron-lock.errors.js';
import type { CronLockLogger } from '../../observer/logger.js';
import { unrefTimer } from '../../utils/unref-timer.js';
import {
  parseTriggerMessage,
  subscribeListener,
  type TriggerChannel,
  type TriggerMessage,
  type TriggerSubscription,
} from '../trigger.interface.js';
import {
  connectWithin,
  noAnswerIfTimedOut,
  runStatement,
  timedQuery,
  timeLeft,
  type PostgresPool,
} from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';
import { poolEnding, watchListener, whenPoolEnds, type Liveness } from './listener-liveness.js';
import {
  POSTGRES_TRIGGERS_CLOSED,
  POSTGRES_TRIGGERS_LISTENER_LOST,
  POSTGRES_TRIGGERS_UNCHECKED,
  POSTGRES_TRIGGERS_UNHEARD,
} from './postgres.messages.js';
import { canLendSecond, probeListening, type Probe } from './trigger-probe.js';

/** Before listening again after the listening connection broke. */
const RELISTEN_DELAY_MS = 1_000;

/**
 * The name of a claim row in the lock table. `~` is outside the characters of a job name, so
 * a claim never shadows a job, and the CLI's listing leaves these rows out.
 */
export const CLAIM_ROW_PREFIX = '~trigger:';

/**
 * A claim: a row of the lock table named after the request, inserted once. It carries only a
 * state expiry, so the cleanup of expired rows (see release.ts) removes it like any other.
 * $1 row name · $2 ttl ms
 */
function claimSql(table: LockTable): string {
  return `INSERT INTO ${table.qualified} (name, state_expires_at)
VALUES ($1, clock_timestamp() + $2 * interval '1 millisecond')
ON CONFLICT (name) DO NOTHING RETURNING name`;
}

/**
 * The trigger channel of one lock table on PostgreSQL: `NOTIFY` to send, one connection per
 * store that `LISTEN`s, a row per request claimed with `INSERT … ON CONFLICT DO NOTHING`.
 *
 * LISTEN needs a session: the listening connection is taken from the pool and kept (one per
 * store), and it must reach PostgreSQL directly or through a pooler in session mode (PgBouncer
 * in transaction mode drops notifications). Sending and claiming work through any pooler, but a
 * `trigger()` caller also listens for the replies, so it needs a session as well. As
 * `LISTEN` succeeds either way, each (re-)listen is checked with one probe notification (see
 * trigger-probe.ts); a connection that does not hear it is refused, never kept deaf. While it
 * listens, a periodic round trip on it (listener-liveness.ts) notices one that went half-open.
 */
export class PostgresTriggerChannel implements TriggerChannel {
  /** One channel per table: an identifier of at most 63 bytes, whatever the names. */
  private readonly channel: string;
  /** Sent to listen, and again on the listening connection to check it (a no-op there). */
  private readonly listenSql: string;
  private readonly listeners = new Set<(message: TriggerMessage) => void>();
  private listening: Promise<void> | null = null;
  /** Destroys the listening connection. */
  private release: (() => void) | null = null;
  /** Destroys the connection whose `LISTEN` is in flight. */
  private abortListen: (() => void) | null = null;
  /** Counts the close() calls: a connect() begun before the last one must not listen. */
  private closings = 0;
  private relisten: ReturnType<typeof setTimeout> | null = null;
  private reportedError = false;

  constructor(
    private readonly pool: PostgresPool,
    private readonly table: LockTable,
    private readonly timeout: number,
    private readonly fail: (error: unknown) => never,
    private readonly log: CronLockLogger,
    /** Checks (and creates) the lock table once, as the store's own operations do first. */
    private readonly tableReady: () => Promise<void>,
  ) {
    const digest = createHash('sha256').update(table.display).digest('hex').slice(0, 24);
    this.channel = `cron_lock_triggers_${digest}`;
    this.listenSql = `LISTEN "${this.channel}"`;
  }

  /** `null`: NOTIFY does not say how many listened. */
  async publish(message: TriggerMessage): Promise<null> {
    await runStatement(
      this.pool,
      'SELECT pg_notify($1, $2)',
      [this.channel, JSON.stringify(message)],
      this.timeout,
    ).catch(this.fail);
    return null;
  }

  async claim(name: string, id: string, _instanceId: string, ttl: number): Promise<boolean> {
    // A claim is a row of the lock table: on a store just built, the table may not exist yet.
    await this.tableReady().catch(this.fail);
    const rows = await runStatement(
      this.pool,
      claimSql(this.table),
      [`${CLAIM_ROW_PREFIX}${name}:${id}`, ttl],
      this.timeout,
    ).catch(this.fail);
    return rows.length === 1;
  }

  subscribe(listener: (message: TriggerMessage) => void): Promise<TriggerSubscription> {
    const channel = { open: () => this.listen(), close: () => this.close() };
    return subscribeListener(this.listeners, listener, channel, this.fail);
  }

  /**
   * Gives the listening connection back to the pool, also one still being opened: a `LISTEN` in
   * flight ends with its connection, and a connection still awaited from the pool goes back to it
   * as soon as it arrives. A subscription still being opened then rejects.
   */
  async close(): Promise<void> {
    this.closings += 1;
    if (this.relisten !== null) {
      clearTimeout(this.relisten);
      this.relisten = null;
    }
    this.listening = null;
    const listened = this.release;
    const opening = this.abortListen;
    this.release = null;
    this.abortListen = null;
    listened?.();
    opening?.();
  }

  private listen(): Promise<void> {
    if (this.listening === null) {
      const attempt: Promise<void> = this.connect(this.closings).catch((error: unknown) => {
        // A newer attempt, begun after a close(), is not this one's to forget.
        if (this.listening === attempt) {
          this.listening = null;
        }
        throw error;
      });
      this.listening = attempt;
    }
    return this.listening;
  }

  /** Opens the listening connection, unless close() is called meanwhile (`closings` moved on). */
  private async connect(closings: number): Promise<void> {
    const closed = (): boolean => closings !== this.closings;
    const started = performance.now();
    const lease = await connectWithin(this.pool, this.timeout).catch((error: unknown) => {
      throw closed() ? new LockStoreError(POSTGRES_TRIGGERS_CLOSED) : error;
    });
    if (closed()) {
      // It has not listened: the pool may lend it again.
      lease.release(false);
      throw new LockStoreError(POSTGRES_TRIGGERS_CLOSED);
    }
    const { client } = lease;
    let released = false;
    let liveness: Liveness | null = null;
    let stopEndCheck: (() => void) | null = null;
    // Destroyed, not returned: a pooled connection must not keep listening for someone else.
    // Once only: close() and the failed LISTEN it causes may both give it back.
    const destroy = (): void => {
      liveness?.stop();
      stopEndCheck?.();
      if (!released) {
        released = true;
        lease.release(true);
      }
    };
    let broken = false;
    let lostBy: unknown;
    let probe: Probe | null = null;
    const onBroken = (error?: unknown): void => {
      if (broken) {
        return;
      }
      broken = true;
      lostBy = error;
      probe?.stop();
      client.off('notification', onNotification);
      if (this.release === destroy) {
        this.release = null;
        this.listening = null;
        destroy();
        this.scheduleRelisten(error);
      }
    };
    const onNotification = (notification: { channel: string; payload?: string }): void => {
      if (notification.channel !== this.channel || notification.payload === undefined) {
        return;
      }
      const message = parseTriggerMessage(notification.payload);
      for (const listener of message === null ? [] : [...this.listeners]) {
        try {
          listener(message!);
        } catch {
          // A listener's failure is its own: the others still hear the message.
        }
      }
    };
    client.on('notification', onNotification);
    client.on('error', onBroken);
    client.on('end', onBroken);
    // The check after the LISTEN is stopped with it: close() must not wait for its deadline.
    const abort = (): void => {
      destroy();
      probe?.stop();
    };
    this.abortListen = abort;
    let failed = false;
    let failure: unknown;
    // Bounded as every other statement (connection and round trip together): a server that
    // stopped answering would otherwise hold the subscription, or the re-listen, for good.
    try {
      await client.query(timedQuery(this.listenSql, undefined, timeLeft(started, this.timeout)));
    } catch (error) {
      failed = true;
      failure = noAnswerIfTimedOut(error, this.timeout);
    }
    if (!failed && !closed() && !broken) {
      try {
        await this.verify(client, started, (running) => {
          probe = running;
        });
      } catch (error) {
        failed = true;
        failure = error;
      }
    }
    if (this.abortListen === abort) {
      this.abortListen = null;
    }
    if (failed || closed() || broken) {
      const lost = !failed && broken;
      broken = true;
      client.off('notification', onNotification);
      destroy();
      if (closed()) {
        throw new LockStoreError(POSTGRES_TRIGGERS_CLOSED);
      }
      throw lost ? (lostBy ?? new LockStoreError(POSTGRES_TRIGGERS_LISTENER_LOST)) : failure;
    }
    // Nothing else would tell a connection the network silently dropped: see listener-liveness.ts.
    liveness = watchListener(client, this.listenSql, this.timeout, onBroken);
    // The app ended the pool (a pool passed in): give the connection back so that its end() can
    // finish, and listen no more; triggers reach this instance no more either way.
    stopEndCheck = whenPoolEnds(this.pool, () => {
      this.log.debug('trigger channel: the pool is ending, stopped listening');
      broken = true;
      client.off('notification', onNotification);
      if (this.release === destroy) {
        this.release = null;
        this.listening = null;
      }
      destroy();
    });
    this.release = destroy;
    this.reportedError = false;
  }

  /**
   * Throws when the listening `client` does not hear the channel within the budget begun at
   * `started`. Skipped (logged at debug) when the pool cannot lend a second connection to send the
   * probe from: a pool of one connection, which the listener holds, or one busy for the whole
   * budget. Refusing then would leave a working direct connection deaf for an unrelated reason.
   */
  private async verify(
    client: PoolClient,
    started: number,
    running: (probe: Probe) => void,
  ): Promise<void> {
    if (!canLendSecond(this.pool)) {
      this.log.debug(
        POSTGRES_TRIGGERS_UNCHECKED('the pool has max 1 connection, the listening one'),
      );
      return;
    }
    const probe = probeListening(this.pool, client, this.channel, started, this.timeout);
    running(probe);
    const outcome = await probe.outcome;
    if (outcome === 'unheard') {
      throw new LockStoreError(POSTGRES_TRIGGERS_UNHEARD(this.timeout));
    }
    if (outcome === 'no-connection') {
      this.log.debug(
        POSTGRES_TRIGGERS_UNCHECKED(`the pool lent no second connection within ${this.timeout}ms`),
      );
    }
  }

  /** A broken listening connection is replaced while anyone listens. */
  private scheduleRelisten(error: unknown): void {
    // An ended pool lends nothing: trying again every second would only log its refusal.
    if (this.listeners.size === 0 || this.relisten !== null || poolEnding(this.pool)) {
      return;
    }
    if (!this.reportedError && error !== undefined) {
      this.reportedError = true;
      try {
        this.fail(error);
      } catch (failure) {
        const why = failure instanceof Error ? failure.message : 'unknown error';
        this.log.warn(`Trigger channel connection lost: ${why}; listening again`);
      }
    }
    const closings = this.closings;
    this.relisten = setTimeout(() => {
      this.relisten = null;
      this.listen().catch((failure: unknown) => {
        // Closed meanwhile: nobody is left to listen for.
        if (closings === this.closings) {
          this.scheduleRelisten(failure);
        }
      });
    }, RELISTEN_DELAY_MS);
    unrefTimer(this.relisten);
  }
}
