import { LockStoreError } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisTcpProxy } from '../faults/support/tcp-proxy.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { waitFor } from '../support/redis.js';
import { expectOneChannelWarning, publishUntilHeard } from '../support/trigger-delivery.js';

/** Every pool, proxy, table and connection a test made, undone after it. */
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

function adminPool(): pg.Pool {
  const made = newPool();
  cleanup.push(() => made.end());
  return made;
}

function table(label: string, on: pg.Pool): string {
  const name = uniqueTable(label);
  cleanup.push(() => dropTable(on, name));
  return name;
}

/**
 * The app's own pool, which the test ends itself: its connections carry a name of their own, and
 * any left behind (a failed run) are ended from the server side afterwards.
 */
function appPool(admin: pg.Pool, options: pg.PoolConfig = {}): { pool: pg.Pool; app: string } {
  const app = uniqueTable('app');
  cleanup.push(() =>
    admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [app],
    ),
  );
  return { pool: newPool({ max: 1, application_name: app, ...options }), app };
}

const LISTENING_SQL = `SELECT count(*)::int AS n FROM pg_stat_activity
WHERE application_name = $1 AND query LIKE 'LISTEN%'`;

/** How many of `app`'s connections LISTEN, polled until none does or `timeout` ms passed. */
async function listeningLeft(admin: pg.Pool, app: string, timeout = 5_000): Promise<number> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const { rows } = await admin.query<{ n: number }>(LISTENING_SQL, [app]);
    if (rows[0]!.n === 0 || Date.now() >= deadline) {
      return rows[0]!.n;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `pool.end()` within `ms`, or `'still waiting'`: a pool ends only once every connection it lent
 * is back, so a connection the store kept makes it wait for good.
 */
function endWithin(pool: pg.Pool, ms: number): Promise<'ended' | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still waiting'>((resolve) => {
    timer = setTimeout(() => resolve('still waiting'), ms);
  });
  return Promise.race([pool.end().then(() => 'ended' as const), late]).finally(() =>
    clearTimeout(timer),
  );
}

/** How a subscription began before the store closed ended: it must not say it listens. */
function settled(subscribing: Promise<unknown>): Promise<string> {
  return subscribing.then(
    () => 'listening',
    (error: unknown) =>
      error instanceof LockStoreError ? `LockStoreError: ${error.message}` : String(error),
  );
}

describe('PostgresTriggerChannel closed while it connects (a pool passed in)', () => {
  it('gives the connection back when the store closes before the first LISTEN', async () => {
    const admin = adminPool();
    const { pool, app } = appPool(admin);
    const store = new PostgresLockStore(pool, { logger: false, table: table('first', admin) });
    await store.ping();

    // Not awaited: the app shuts down while the channel is still taking its connection.
    const subscribing = settled(store.triggers.subscribe(() => undefined));
    await store.close();
    // Once the subscription has its answer, the connection it was given is no longer in flight.
    const subscription = await subscribing;

    const poolEnd = await endWithin(pool, 5_000);
    expect({ subscription, poolEnd, listening: await listeningLeft(admin, app) }).toEqual({
      subscription: expect.stringMatching(/^LockStoreError: .*closed/),
      poolEnd: 'ended',
      listening: 0,
    });
  });

  it('gives the connection back when the store closes while the LISTEN goes unanswered', async () => {
    const admin = adminPool();
    const direct = new URL(testPostgresUrl());
    // A plain TCP proxy: partition() holds every byte in both directions until heal().
    const proxy = await RedisTcpProxy.start(Number(direct.port));
    cleanup.push(() => proxy.close());
    const viaProxy = new URL(testPostgresUrl());
    viaProxy.port = String(proxy.port);
    const { pool } = appPool(admin, { connectionString: viaProxy.toString() });
    const store = new PostgresLockStore(pool, { logger: false, table: table('cut', admin) });
    await store.ping();

    proxy.partition();
    const subscribing = settled(store.triggers.subscribe(() => undefined));
    await waitFor(() => pool.totalCount === 1 && pool.idleCount === 0, {
      message: 'the channel to take the connection for its LISTEN',
    });
    await store.close();

    const poolEnd = await endWithin(pool, 5_000);
    expect(poolEnd).toBe('ended');
    expect(await subscribing).toMatch(/^LockStoreError: .*closed/);
  });

  it('gives the connection back when a subscription closes while the channel listens again', async () => {
    const admin = adminPool();
    const { pool, app } = appPool(admin);
    // A long wait for a connection: the re-listen must still be waiting when the store closes.
    const store = new PostgresLockStore(pool, {
      logger: false,
      table: table('relisten', admin),
      operationTimeout: 60_000,
    });
    await store.ping();
    const subscription = await store.triggers.subscribe(() => undefined);

    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
      [app],
    );
    await waitFor(() => pool.totalCount === 0, {
      message: 'the channel to drop its broken connection',
    });
    const busy = await pool.connect();
    await waitFor(() => pool.waitingCount === 1, {
      timeout: 10_000,
      message: 'the re-listen to wait for a connection',
    });
    await subscription.close();
    await store.close();
    busy.release();

    const poolEnd = await endWithin(pool, 5_000);
    expect({ poolEnd, listening: await listeningLeft(admin, app) }).toEqual({
      poolEnd: 'ended',
      listening: 0,
    });
  });
});

describe('PostgresTriggerChannel checks that its listening connection hears the channel', () => {
  it('gives the connection back at once when the store closes while the check waits for a second connection', async () => {
    const admin = adminPool();
    const { pool, app } = appPool(admin, { max: 2 });
    // A long budget: the check must end with the store, not with its deadline.
    const store = new PostgresLockStore(pool, {
      logger: false,
      table: table('probe_close', admin),
      operationTimeout: 60_000,
    });
    await store.ping();
    // The app holds the pool's other connection: the check's probe waits for it.
    const busy = await pool.connect();
    const subscribing = settled(store.triggers.subscribe(() => undefined));
    await waitFor(() => pool.waitingCount === 1, {
      timeout: 10_000,
      message: 'the check to wait for a second connection',
    });
    await store.close();

    expect(await within(subscribing, 5_000)).toMatch(/^LockStoreError: .*closed/);
    busy.release();
    const poolEnd = await endWithin(pool, 5_000);
    expect({ poolEnd, listening: await listeningLeft(admin, app) }).toEqual({
      poolEnd: 'ended',
      listening: 0,
    });
  });

  it('listens unchecked on a pool of one connection, says so at debug, and hears triggers', async () => {
    const admin = adminPool();
    const { pool } = appPool(admin);
    cleanup.push(() => pool.end());
    const logger = new CapturingLogger();
    const name = table('probe_single', admin);
    const store = new PostgresLockStore(pool, { logger, table: name });
    cleanup.push(() => store.close());
    const sender = new PostgresLockStore(admin, { logger: false, table: name });
    cleanup.push(() => sender.close());
    const received: string[] = [];
    const subscription = await store.triggers.subscribe((message) => received.push(message.id));
    cleanup.push(() => subscription.close());

    await sender.triggers.publish({ kind: 'request', id: 'single', name: 'report', force: false });
    await waitFor(() => received.includes('single'), { message: 'the trigger on one connection' });
    expect(logger.lines.map((line) => [line.level, line.message])).toEqual([
      [
        'debug',
        expect.stringMatching(/not checked that notifications arrive \(the pool has max 1/),
      ],
    ]);
  });
});

/** `promise`'s value, or `'still waiting'` after `ms`: for an answer that must come in time. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still waiting'>((resolve) => {
    timer = setTimeout(() => resolve('still waiting'), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('PostgresTriggerChannel when PostgreSQL stops answering', () => {
  const TIMEOUT = 500;

  /** A store whose pool reaches PostgreSQL through a proxy that can stop forwarding. */
  async function storeBehindProxy(
    label: string,
    options: { max: number; logger?: CapturingLogger },
  ) {
    const admin = adminPool();
    const proxy = await RedisTcpProxy.start(Number(new URL(testPostgresUrl()).port));
    cleanup.push(() => proxy.close());
    const viaProxy = new URL(testPostgresUrl());
    viaProxy.port = String(proxy.port);
    const { pool, app } = appPool(admin, {
      connectionString: viaProxy.toString(),
      max: options.max,
      // The idle connection the test sets up must still be there when the channel takes it.
      idleTimeoutMillis: 0,
    });
    cleanup.push(() => pool.end());
    const name = table(label, admin);
    const store = new PostgresLockStore(pool, {
      logger: options.logger ?? false,
      table: name,
      operationTimeout: TIMEOUT,
    });
    cleanup.push(() => store.close());
    // Another instance, reaching PostgreSQL directly: it sends the triggers.
    const sender = new PostgresLockStore(admin, { logger: false, table: name });
    cleanup.push(() => sender.close());
    return { admin, proxy, pool, app, store, sender };
  }

  const request = (id: string) => ({ kind: 'request', id, name: 'report', force: false }) as const;

  it('rejects a subscription whose LISTEN gets no answer within operationTimeout, then listens again once the server answers', async () => {
    const { proxy, pool, store, sender } = await storeBehindProxy('silent', { max: 1 });
    // The pool keeps an idle connection, opened while the network answered: the LISTEN goes out
    // on it and its answer never comes back.
    await store.ping();
    proxy.partition();

    const outcome = await within(settled(store.triggers.subscribe(() => undefined)), 10 * TIMEOUT);
    expect({ outcome, pooled: pool.totalCount }).toEqual({
      outcome: expect.stringMatching(/^LockStoreError: no answer from PostgreSQL within 500ms/),
      // Destroyed, not returned: its late answer must not be read by the next borrower.
      pooled: 0,
    });

    proxy.heal();
    const received: string[] = [];
    const subscription = await store.triggers.subscribe((message) => received.push(message.id));
    cleanup.push(() => subscription.close());
    await sender.triggers.publish(request('after-heal'));
    await waitFor(() => received.includes('after-heal'), {
      message: 'the trigger sent once the server answers again',
    });
  });

  it('keeps listening again while its re-listen gets no answer, logs that once, and hears triggers once the server answers', async () => {
    const logger = new CapturingLogger();
    const { admin, proxy, pool, app, store, sender } = await storeBehindProxy('relisten_silent', {
      max: 2,
      logger,
    });
    const received: string[] = [];
    const subscription = await store.triggers.subscribe((message) => received.push(message.id));
    cleanup.push(() => subscription.close());
    // A second, idle connection: the re-listen takes it and sends its LISTEN into the silence.
    await store.ping();
    expect(pool.idleCount).toBe(1);

    let removed = 0;
    // The network goes silent as soon as the channel drops its broken connection, before the
    // re-listen (a second later) sends anything.
    pool.once('remove', () => {
      proxy.partition();
      pool.on('remove', () => {
        removed += 1;
      });
    });
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
      [app],
    );
    // The unanswered re-listen gives up on its connection (destroyed, not returned) and tries again.
    await waitFor(() => removed >= 1, {
      timeout: 10_000,
      message: 'the re-listen to drop the connection whose LISTEN got no answer',
    });

    proxy.heal();
    await publishUntilHeard((id) => sender.triggers.publish(request(id)), received, 'after-heal', {
      timeout: 15_000,
      message: 'a trigger sent once the server answers again',
    });
    const warnings = logger.lines.filter((line) => line.message.includes('Trigger channel'));
    expect(warnings).toHaveLength(1);
  });

  it('notices a listening connection that goes half-open, logs that once, and hears triggers again on a new connection', async () => {
    const logger = new CapturingLogger();
    const { proxy, store, sender } = await storeBehindProxy('halfopen', { max: 2, logger });
    const received: string[] = [];
    const subscription = await store.triggers.subscribe((message) => received.push(message.id));
    cleanup.push(() => subscription.close());
    await sender.triggers.publish(request('before'));
    await waitFor(() => received.includes('before'), { message: 'a trigger before the freeze' });

    // The network forgets the connections open now, without a RST or FIN: the listening one (and
    // any idle one) stay open and carry nothing; new connections get through.
    proxy.freezeOpen();
    // The check runs every 10 × operationTimeout (5 s here): detected within 5.5 s, listening
    // again a second later (after dropping any idle connection frozen too).
    await publishUntilHeard(
      (id) => sender.triggers.publish(request(id)),
      received,
      'after-freeze',
      {
        timeout: 25_000,
        message: 'a trigger sent after the listener went half-open',
      },
    );
    expectOneChannelWarning(logger, /no answer from PostgreSQL within 500ms.*listening again/);
    const password = decodeURIComponent(new URL(testPostgresUrl()).password);
    const secrets = [password, testPostgresUrl()].filter((secret) => secret !== '');
    for (const line of logger.lines) {
      for (const secret of secrets) {
        expect(line.message).not.toContain(secret);
      }
    }
  });

  it('closes at once while its check of a half-open listening connection waits for an answer', async () => {
    const logger = new CapturingLogger();
    const { admin, proxy, pool, app, store } = await storeBehindProxy('halfopen_close', {
      max: 2,
      logger,
    });
    const subscription = await store.triggers.subscribe(() => undefined);
    proxy.freezeOpen();
    // The check goes out into the silence: the store closes while it waits for its answer.
    await waitFor(() => proxy.droppedUp > 0, {
      timeout: 15_000,
      message: 'the check of the listening connection to be sent',
    });
    const closing = Promise.all([subscription.close(), store.close()]).then(() => 'closed');

    expect(await within(closing, 1_000)).toBe('closed');
    expect(await endWithin(pool, 5_000)).toBe('ended');
    // Its check ended with it: nothing reported, no connection opened again.
    expect(logger.lines.filter((line) => line.message.includes('Trigger channel'))).toEqual([]);
    expect(await listeningLeft(admin, app)).toBe(0);
  });
});
