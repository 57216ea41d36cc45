import type { Pool, PoolClient, Query, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { LockStoreError } from '../../cron-lock.errors.js';
import { POSTGRES_NO_ANSWER, POSTGRES_POOL_EXHAUSTED } from './postgres.messages.js';
import { keepsConnection, sqlState } from './postgres-errors.js';
import { cancelStatement } from './cancel-statement.js';
import { errorWhileLent } from './pool-listeners.js';

/**
 * The part of a `pg` `Pool` the store uses. A `Pool` from the app (TypeORM's and Prisma's driver
 * pools are not `pg` pools; pass `new Pool()` from `pg`), never closed by the store.
 */
export type PostgresPool = Pick<Pool, 'connect' | 'end'>;

/**
 * One statement's SQL, and the name it is prepared under on each connection (`undefined`: an
 * unnamed statement, parsed and planned again on every call).
 */
export interface Statement {
  readonly text: string;
  readonly name?: string;
}

/**
 * Runs one statement on a connection from `pool`, bounded by `timeout` ms from the call:
 * waiting for a free connection and the round trip together. One statement is one round trip.
 *
 * A connection whose statement got no answer in time is destroyed, not returned to the pool: its
 * reply may still arrive and would be read as the answer to the next statement. The statement is
 * also cancelled on the server (see cancelStatement), so one waiting for a row lock neither keeps
 * a server process nor runs later. It may still have run before the cancel arrived, or the cancel
 * may not reach the server (a lost reply), which the callers allow for as the Redis store does:
 * an acquire that got no answer is released by the runner.
 *
 * A named statement is parsed and planned once per connection (the store's statements are long
 * enough that planning them costs more than running them); see `PostgresLockStore` for the
 * fallback to unnamed statements behind a pooler that cannot keep them.
 */
export async function runStatement<Row extends QueryResultRow>(
  pool: PostgresPool,
  statement: string | Statement,
  values: readonly unknown[],
  timeout: number,
): Promise<Row[]> {
  const started = performance.now();
  try {
    return await runOnce<Row>(pool, statement, values, timeout, started, timeout);
  } catch (error) {
    if (typeof statement === 'string' || !isStalePlan(error, statement)) {
      throw error;
    }
    // Its connection is destroyed (see runOnce). Sent unnamed, parsed wherever it lands: the
    // pool may lend another connection that prepared it before, and a pooler sharing prepared
    // statements across its clients holds the stale one for all of them.
    return runOnce<Row>(
      pool,
      { text: statement.text },
      values,
      timeout,
      started,
      timeLeft(started, timeout),
    );
  }
}

/**
 * A named statement the server refuses because what it answers changed since the connection
 * prepared it ("cached plan must not change result type": the schema's functions were replaced
 * by ones of another result type, as the schema check does for an unreleased build's). The
 * server refuses it at Bind, before it runs, and on that connection for as long as it lives: the
 * connection is destroyed and the statement sent once more, unnamed. Told by its SQLSTATE
 * (`0A000`, any unsupported feature) and the server function that raises it, which no
 * `lc_messages` translates; any other `0A000` is reported as before.
 */
function isStalePlan(error: unknown, statement: string | Statement): boolean {
  return (
    typeof statement !== 'string' &&
    statement.name !== undefined &&
    sqlState(error) === '0A000' &&
    (error as { routine?: unknown }).routine === 'RevalidateCachedQuery'
  );
}

/**
 * One send of `statement` (see runStatement) within what is left of `timeout` from `started`, on
 * a connection had within `connectTimeout`.
 */
async function runOnce<Row extends QueryResultRow>(
  pool: PostgresPool,
  statement: string | Statement,
  values: readonly unknown[],
  timeout: number,
  started: number,
  connectTimeout: number,
): Promise<Row[]> {
  const lease = await connectWithin(pool, connectTimeout);
  let failure: unknown;
  let cancelling: Promise<void> | undefined;
  try {
    const { text, name } =
      typeof statement === 'string' ? { text: statement, name: undefined } : statement;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await send<Row>(lease.client, text, values, timeLeft(started, timeout), name);
      } catch (error) {
        if (!sendAgain(error, attempt, started, timeout)) {
          throw error;
        }
      }
    }
  } catch (error) {
    failure = error;
    if (isReadTimeout(error)) {
      // Destroying the connection alone leaves the statement waiting (and able to run) on the
      // server: see cancelStatement.
      cancelling = cancelStatement(lease.client, timeout);
    }
    throw noAnswerIfTimedOut(error, timeout);
  } finally {
    // A server error (a constraint, a statement timeout) leaves the connection usable; a broken,
    // timed-out or read-only one must not go back to the pool (keepsConnection), and a timed-out
    // one is destroyed only once its cancel is sent (the caller is answered at once all the same).
    if (cancelling) {
      // Nothing may reject unheard here: no caller waits for this.
      cancelling.then(() => lease.release(true)).catch(() => undefined);
    } else {
      lease.release(
        failure !== undefined && (!keepsConnection(failure) || isStalePlan(failure, statement)),
      );
    }
  }
}

/** `pg`'s `Query` class, as every `pg` 8 client names its own (`Client.Query`). */
type QueryClass = new <Row extends QueryResultRow>(
  text: string,
  values: unknown[],
  callback: (error: Error | null, result: QueryResult<Row>) => void,
) => Query<Row> & { name?: string; query_timeout: number };

/**
 * One send of a statement as the connection's own query object, bounded as {@link timedQuery} is.
 * Not a configuration object: `pg` (8.23.1 on) copies one, property descriptor by property
 * descriptor, on every call, a visible share of a statement's client work. Its `Query` made from a
 * bare text takes no such copy; the name and read timeout are set on it before `query` reads them,
 * and it is used as given. Everything `pg`, or a tracing tool wrapping `query`, reads is its own
 * property. The class is the client's own, not the one this package imports: a pool may come from
 * another copy of `pg`, whose client reads fields another version's `Query` lacks, and which in
 * pipeline mode refuses any query not made by its class. A client that names none (a wrapper of
 * its own) is sent the configuration object, as before.
 */
function send<Row extends QueryResultRow>(
  client: PoolClient,
  text: string,
  values: readonly unknown[],
  timeout: number,
  name: string | undefined,
): Promise<Row[]> {
  const Own = (client.constructor as { Query?: unknown } | undefined)?.Query;
  if (typeof Own !== 'function') {
    return client
      .query<Row>(timedQuery(text, [...values], timeout, name))
      .then((result) => result.rows);
  }
  return new Promise<Row[]>((resolve, reject) => {
    const query = new (Own as QueryClass)<Row>(text, values as unknown[], (error, result) => {
      if (error) reject(error);
      else resolve(result.rows);
    });
    if (name !== undefined) {
      query.name = name;
    }
    query.query_timeout = timeout;
    client.query(query);
  });
}

/** Sends of one statement refused as a serialization failure, the first included. */
const SERIALIZATION_ATTEMPTS = 5;

/**
 * Whether to send a statement again on the same connection: the server refused it with a
 * serialization failure (`40001`), and time is left. The statements are written for READ
 * COMMITTED, where a statement that waited for a row another transaction wrote reads the row as
 * committed and goes on; a role or database whose `default_transaction_isolation` is `repeatable
 * read` or `serializable` makes it fail instead, since its snapshot predates that commit. It ran
 * in its own implicit transaction, rolled back whole, so sending it again is safe, and the new
 * send takes a new snapshot. Without this, instances contending for an occurrence failed as store
 * errors (and, with `onStoreError: 'run'`, ran the job without the lock).
 */
function sendAgain(error: unknown, attempt: number, started: number, timeout: number): boolean {
  return (
    sqlState(error) === '40001' &&
    attempt < SERIALIZATION_ATTEMPTS &&
    performance.now() - started < timeout
  );
}

/** A pooled connection while the store uses it. */
export interface Lease {
  readonly client: PoolClient;
  /** Gives the connection back, or destroys it when `destroy` or when it failed meanwhile. */
  release(destroy: boolean): void;
}

/**
 * `pool.connect()` with a deadline; a connection that arrives late goes back to the pool.
 *
 * While it is checked out, a `pg` client has no `error` listener (the pool removes its own), and
 * an error with no query in flight is emitted as an `error` event: unheard, it would crash the
 * process. That happens when the server ends the connection (a restart: `57P01`) right after a
 * reply, in the same packet, before the release. The lease listens for it and destroys the
 * connection on release. One that erred as the pool lent it (see watchPool) is destroyed at
 * once, and the lease fails with its error.
 */
export function connectWithin(pool: PostgresPool, timeout: number): Promise<Lease> {
  return new Promise<Lease>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      const error = new LockStoreError(POSTGRES_POOL_EXHAUSTED(timeout, poolFull(pool)));
      noConnection.add(error);
      reject(error);
    }, timeout);
    pool.connect().then(
      (client) => {
        if (settled) {
          client.release();
          return;
        }
        settled = true;
        clearTimeout(timer);
        const lentBroken = errorWhileLent(client);
        if (lentBroken !== undefined) {
          // It never carried a statement: the server ended it as the pool lent it (watchPool).
          client.release(true);
          reject(lentBroken);
          return;
        }
        let failed = false;
        const onError = (): void => {
          failed = true;
        };
        client.on('error', onError);
        resolve({
          client,
          release: (destroy) => {
            client.off('error', onError);
            client.release(destroy || failed);
          },
        });
      },
      (error: unknown) => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** The errors of {@link connectWithin}'s deadline, whichever cause their message names. */
const noConnection = new WeakSet<Error>();

/** No connection came from the pool in time (see {@link connectWithin}). */
export function isNoConnection(error: unknown): boolean {
  return error instanceof LockStoreError && noConnection.has(error);
}

/**
 * Why a `pg` pool lent no connection, read from its counts (which include connections still
 * opening): its `max` when it had none left, `null` when it had room (so the database did not
 * accept a new one), `undefined` for a pool that does not say.
 */
function poolFull(pool: PostgresPool): number | null | undefined {
  const { totalCount, options } = pool as Partial<Pick<Pool, 'totalCount' | 'options'>>;
  const max = options?.max;
  if (typeof totalCount !== 'number' || typeof max !== 'number') {
    return undefined;
  }
  return totalCount >= max ? max : null;
}

/** The client-side read timeout of {@link timedQuery} ran out: the connection is out of sync. */
function isReadTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Query read timeout';
}

/**
 * What is left of one `timeout` budget begun at `started` (`performance.now()`), at least 1 ms:
 * getting the connection and the round trip share it.
 */
export function timeLeft(started: number, timeout: number): number {
  return Math.max(1, Math.round(timeout - (performance.now() - started)));
}

/** `error`, or the store's "no answer within `timeout`" when it is {@link timedQuery}'s timeout. */
export function noAnswerIfTimedOut(error: unknown, timeout: number): unknown {
  return isReadTimeout(error) ? new LockStoreError(POSTGRES_NO_ANSWER(timeout)) : error;
}

/**
 * A query with its own client-side read timeout. `pg` honours `query_timeout` per query, but its
 * type declarations only know it as a client setting.
 */
export function timedQuery(
  text: string,
  values: unknown[] | undefined,
  timeout: number,
  name?: string,
): QueryConfig {
  const config: QueryConfig & { query_timeout: number } = { text, values, query_timeout: timeout };
  if (name !== undefined) {
    config.name = name;
  }
  return config;
}

/**
 * The server lost or already has a named statement: what a pooler in transaction mode without
 * prepared-statement support (PgBouncer before 1.21) causes, by running each statement on
 * whichever server connection is free. Nothing was executed (the error comes at Parse or Bind).
 */
export function isPreparedStatementTrouble(error: unknown): boolean {
  const code = sqlState(error);
  return code === '26000' || code === '42P05';
}

/**
 * `WHERE true OR (…) IS NULL` naming the parameters a shape leaves unused, with their types: the
 * server must infer a type for every parameter it is sent. The planner folds the condition away.
 */
export function typedParameters(unused: readonly string[]): string {
  const named = unused.filter((parameter) => parameter !== '');
  return named.length === 0 ? '' : ` WHERE true OR (${named.join(', ')}) IS NULL`;
}
