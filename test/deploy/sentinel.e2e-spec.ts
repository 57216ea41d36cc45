import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  LockLostError,
  RedisLockStore,
  type CronLockEvents,
  type Duration,
  type LockContext,
} from 'nestjs-cron-lock';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { uniquePrefix, waitFor } from '../support/redis.js';
import { bootApp, runOnce } from './support/app.js';
import { startCapture } from './support/capture.js';
import { duplicateOccurrences, recordedRun, type RunRecord } from '../support/run-log.js';
import {
  command,
  roleOf,
  startSentinelTopology,
  SwitchableEndpoint,
  type SentinelTopology,
} from './support/topology.js';

/** Runs of the per-second job, from both apps. */
const tickRuns: RunRecord[] = [];

@Injectable()
class EverySecondJob {
  @LockedCron('* * * * * *', { ttl: '5s', name: 'sentinel-every-second' })
  async tick(ctx: LockContext): Promise<void> {
    tickRuns.push(await recordedRun(ctx));
  }
}

interface App {
  instanceId: string;
  module: TestingModule;
  locks: CronLockService;
  events: Array<{ type: string; at: number; payload: CronLockEvents[keyof CronLockEvents] }>;
}

function eventsOf<E extends keyof CronLockEvents>(
  app: App,
  type: E,
  name: string,
): Array<{ at: number; payload: CronLockEvents[E] }> {
  return app.events
    .filter((event) => event.type === type && event.payload.name === name)
    .map((event) => ({ at: event.at, payload: event.payload as CronLockEvents[E] }));
}

/** Records every event of `locks` with its time (monotonic ms). */
function record(locks: CronLockService): App['events'] {
  const events: App['events'] = [];
  for (const type of ['renewed', 'lost', 'released', 'store-error', 'skipped'] as const) {
    locks.on(type, (payload) => events.push({ type, at: performance.now(), payload }));
  }
  return events;
}

/**
 * A run held open until `finish()` (or its signal aborts), renewing its lock meanwhile.
 * Resolves `outcome` with how it ended.
 */
function holdLock(locks: CronLockService, name: string, ttl: Duration) {
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let signal: AbortSignal | undefined;
  const outcome = locks.run(name, { ttl, record: true }, async (ctx) => {
    signal = ctx.signal;
    const aborted = new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    await Promise.race([finished, aborted]);
    return ctx.signal.aborted ? 'aborted' : 'finished';
  });
  return { outcome, finish, signal: () => signal };
}

describe('Sentinel: the module-created client follows a failover', () => {
  let topology: SentinelTopology;
  let apps: App[] = [];

  beforeAll(async () => {
    topology = await startSentinelTopology();
  });

  afterAll(async () => {
    await topology?.stop();
  });

  afterEach(async () => {
    await Promise.all(apps.map((app) => app.module.close()));
    apps = [];
  });

  async function boot(instanceId: string, keyPrefix: string): Promise<App> {
    const module = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({
          // ioredis Sentinel options: the module creates the client, with LOCK_CLIENT_DEFAULTS.
          redis: { sentinels: topology.sentinels, name: topology.name },
          keyPrefix,
          instanceId,
          logger: false,
        }),
      ],
      providers: [EverySecondJob],
    }).compile();
    const locks = module.get(CronLockService);
    const app: App = { instanceId, module, locks, events: record(locks) };
    apps.push(app);
    await module.init();
    return app;
  }

  it('runs once per occurrence, keeps a renewing lock through SENTINEL FAILOVER, reports a lock the failover lost, and schedules on the new master', async () => {
    const keyPrefix = uniquePrefix('sentinel');
    const [first, second] = await Promise.all([boot('app-1', keyPrefix), boot('app-2', keyPrefix)]);
    const before = await topology.masterPort();

    // Two long runs, on different apps, renewing every ttl/3.
    const keeper = holdLock(first.locks, 'sentinel-keeper', '5s');
    const victim = holdLock(second.locks, 'sentinel-victim', '5s');
    await waitFor(
      () =>
        eventsOf(first, 'renewed', 'sentinel-keeper').length >= 1 &&
        eventsOf(second, 'renewed', 'sentinel-victim').length >= 1,
      { timeout: 10_000, message: 'both holders renewed once' },
    );
    const firstCounted = Math.ceil((Date.now() + 1) / 1_000) * 1_000;
    await waitFor(
      () =>
        new Set(tickRuns.filter((r) => r.scheduledAt >= firstCounted).map((r) => r.scheduledAt))
          .size >= 3,
      { timeout: 10_000, message: 'three occurrences before the failover' },
    );

    const failoverAt = Date.now();
    const { from, to } = await topology.failover();
    const promotedAt = performance.now();
    expect(from).toBe(before);
    expect(await roleOf(to)).toBe('master');

    // Replication is asynchronous: a lock written (or renewed) just before the promotion may not
    // have reached the replica. Which locks that hits is a matter of timing, so the test makes
    // it certain for one of them: the victim's lock is deleted on the new master, exactly as if
    // its acquisition had not been replicated in time.
    const victimKey = `${keyPrefix}:{sentinel-victim}:lock`;
    expect(await command(to, 'DEL', victimKey)).toBe(1);

    // The victim is told: its next renewal on the new master finds the lock gone.
    await waitFor(() => eventsOf(second, 'lost', 'sentinel-victim').length === 1, {
      timeout: 10_000,
      message: 'the victim lost its lock',
    });
    expect(eventsOf(second, 'lost', 'sentinel-victim')[0].payload.reason).toBe('expired');
    expect(await victim.outcome).toMatchObject({ ran: true, value: 'aborted' });
    expect(victim.signal()?.reason).toBeInstanceOf(LockLostError);

    // The keeper's lock had been replicated: its renewals now land on the new master. (This
    // needs the client to leave the old master at once: LOCK_CLIENT_DEFAULTS' failoverDetector.
    // Without it the client stays there until Sentinel demotes it, ~10 s later, and the keeper's
    // lock, not renewed on the new master meanwhile, expires there.)
    await waitFor(
      () =>
        eventsOf(first, 'renewed', 'sentinel-keeper').filter((e) => e.at > promotedAt).length >= 2,
      { timeout: 10_000, message: 'the keeper renewed twice after the promotion' },
    );
    expect(eventsOf(first, 'lost', 'sentinel-keeper')).toEqual([]);
    expect(
      Number(await command(to, 'PTTL', `${keyPrefix}:{sentinel-keeper}:lock`)),
    ).toBeGreaterThan(0);
    expect((await first.locks.inspect('sentinel-keeper')).holder).toBe('app-1');
    keeper.finish();
    expect(await keeper.outcome).toMatchObject({ ran: true, value: 'finished' });
    expect(eventsOf(first, 'released', 'sentinel-keeper')[0]?.payload.released).toBe(true);
    expect(await command(to, 'EXISTS', `${keyPrefix}:{sentinel-keeper}:lock`)).toBe(0);

    // Scheduling goes on, on the new master, once per occurrence.
    const settledFrom = Math.ceil((Date.now() + 1_500) / 1_000) * 1_000;
    await waitFor(
      () =>
        new Set(tickRuns.filter((r) => r.scheduledAt >= settledFrom).map((r) => r.scheduledAt))
          .size >= 3,
      { timeout: 15_000, message: 'three occurrences after the failover' },
    );
    const lastRun = Math.max(...tickRuns.map((r) => r.scheduledAt));
    const state = (await command(
      to,
      'HGET',
      `${keyPrefix}:{sentinel-every-second}:state`,
      'tick',
    )) as string;
    expect(Number(state)).toBeGreaterThanOrEqual(lastRun);
    await Promise.all(apps.map((app) => app.module.close()));

    // Once per occurrence before the failover and after it settled. (In the seconds around the
    // promotion an occurrence may run twice or not at all: see the README's failover section.)
    const judged = tickRuns.filter(
      (r) =>
        (r.scheduledAt >= firstCounted && r.scheduledAt < failoverAt - 1_000) ||
        r.scheduledAt >= settledFrom,
    );
    expect(duplicateOccurrences(judged)).toEqual([]);
    for (let at = firstCounted; at < failoverAt - 1_000; at += 1_000) {
      expect(
        judged.filter((r) => r.scheduledAt === at),
        new Date(at).toISOString(),
      ).toHaveLength(1);
    }
    for (let at = settledFrom; at <= lastRun; at += 1_000) {
      expect(
        judged.filter((r) => r.scheduledAt === at),
        new Date(at).toISOString(),
      ).toHaveLength(1);
    }
  });
});

describe('READONLY: a master demoted under a held lock', () => {
  let servers: RedisServerHandle[] = [];
  let modules: TestingModule[] = [];
  let stores: RedisLockStore[] = [];
  let endpoint: SwitchableEndpoint | undefined;

  afterEach(async () => {
    await Promise.all(modules.map((module) => module.close()));
    await Promise.all(stores.map((store) => store.close()));
    await endpoint?.stop();
    await Promise.all(servers.map((server) => server.stop()));
    modules = [];
    stores = [];
    servers = [];
    endpoint = undefined;
  });

  /** A master and its linked replica (both standalone: no Sentinel to interfere). */
  async function pair(): Promise<{ master: RedisServerHandle; replica: RedisServerHandle }> {
    const master = await startRedisServer();
    servers.push(master);
    const replica = await startRedisServer({
      args: ['--replicaof', '127.0.0.1', String(master.port)],
    });
    servers.push(replica);
    await waitFor(
      async () =>
        /master_link_status:up/.test(String(await command(replica.port, 'INFO', 'replication'))),
      { timeout: 15_000, message: 'replica linked' },
    );
    return { master, replica };
  }

  /**
   * A failover done by hand, as an orchestrator or a cloud service would do it: promote the
   * replica, then make the old master its replica. Unlike Sentinel, `REPLICAOF` keeps the old
   * master's client connections open, and they get `READONLY` for every write from then on.
   */
  async function swapRoles(master: RedisServerHandle, replica: RedisServerHandle): Promise<void> {
    await command(replica.port, 'REPLICAOF', 'NO', 'ONE');
    await command(master.port, 'REPLICAOF', '127.0.0.1', replica.port);
    expect(await roleOf(master.port)).toBe('slave');
  }

  async function bootService(redis: string, keyPrefix: string): Promise<CronLockService> {
    const module = await Test.createTestingModule({
      imports: [CronLockModule.forRoot({ redis, keyPrefix, instanceId: 'holder', logger: false })],
    }).compile();
    modules.push(module);
    await module.init();
    return module.get(CronLockService);
  }

  it('declares the lock lost at the first renewal answered READONLY, without retrying until the deadline', async () => {
    const { master, replica } = await pair();
    const keyPrefix = uniquePrefix('readonly-renew');
    const locks = await bootService(master.url, keyPrefix);
    const events = record(locks);
    const held = holdLock(locks, 'demoted-holder', '6s');
    await waitFor(() => events.some((e) => e.type === 'renewed'), {
      timeout: 10_000,
      message: 'first renewal',
    });
    // The lock reached the replica, so the renew script finds it (and then cannot write).
    await waitFor(
      async () =>
        (await command(replica.port, 'EXISTS', `${keyPrefix}:{demoted-holder}:lock`)) === 1,
    );

    await swapRoles(master, replica);
    await waitFor(() => events.some((e) => e.type === 'lost'), {
      timeout: 10_000,
      message: 'lost',
    });
    const lost = events.find((e) => e.type === 'lost')!;
    expect((lost.payload as CronLockEvents['lost']).reason).toBe('unconfirmed');
    // The renew interval is 2 s and the deadline 6 s after the last confirmation: the loss
    // comes with the first READONLY, one interval after the last renewal that went through,
    // well before the deadline.
    const lastRenewedAt = Math.max(
      ...events.filter((e) => e.type === 'renewed' && e.at <= lost.at).map((e) => e.at),
    );
    expect(lost.at - lastRenewedAt).toBeLessThan(4_500);
    const renewErrors = (): typeof events =>
      events.filter(
        (e) =>
          e.type === 'store-error' &&
          (e.payload as CronLockEvents['store-error']).operation === 'renew',
      );
    expect(renewErrors()).toHaveLength(1);
    expect((renewErrors()[0].payload as CronLockEvents['store-error']).message).toMatch(/READONLY/);
    expect(await held.outcome).toMatchObject({ ran: true, value: 'aborted' });
    expect(held.signal()?.reason).toBeInstanceOf(LockLostError);
    expect((held.signal()?.reason as LockLostError).reason).toBe('unconfirmed');
    // Still one renewal attempt: the renewer stopped instead of retrying.
    await sleep(2_500);
    expect(renewErrors()).toHaveLength(1);
    // (The owner-checked release after the run gets READONLY too, and is only logged.)

    // An acquire answered READONLY stays an ordinary store error: the run is skipped.
    expect(await locks.run('demoted-acquire', { ttl: '5s' }, () => 'ran')).toEqual({
      ran: false,
      reason: 'store-error',
    });
  });

  it('reconnects on READONLY (LOCK_CLIENT_DEFAULTS) and so reaches the new master behind a moved endpoint', async () => {
    const { master, replica } = await pair();
    endpoint = await SwitchableEndpoint.start(master.port);
    const keyPrefix = uniquePrefix('readonly-reconnect');
    const withDefaults = new RedisLockStore(endpoint.url, { keyPrefix, logger: false });
    // The same store with ioredis' own behaviour: stay connected whatever the server answers.
    const withoutReconnect = new RedisLockStore(
      { host: '127.0.0.1', port: endpoint.port, reconnectOnError: null },
      { keyPrefix, logger: false },
    );
    stores.push(withDefaults, withoutReconnect);
    await withDefaults.ping();
    await withoutReconnect.ping();

    await swapRoles(master, replica);
    endpoint.switchTo(replica.port);

    const attempt = (store: RedisLockStore, name: string) =>
      store.acquire({ name, token: `token-${name}`, ttl: 5_000, instanceId: 'x' });
    // The first write on the old connection gets READONLY (and, with the defaults, drops it)…
    await expect(attempt(withDefaults, 'moved')).rejects.toThrow(/READONLY/);
    // …so the next ones go through the endpoint to the new master.
    const acquired = await waitFor(() => attempt(withDefaults, 'moved').catch(() => null), {
      timeout: 5_000,
      message: 'an acquire on the new master',
    });
    expect(acquired).toMatchObject({ acquired: true });
    expect(await command(replica.port, 'EXISTS', `${keyPrefix}:{moved}:lock`)).toBe(1);

    // Without reconnectOnError the connection stays on the demoted server: READONLY every time.
    const deadline = performance.now() + 2_000;
    let attempts = 0;
    while (performance.now() < deadline) {
      await expect(attempt(withoutReconnect, 'stuck')).rejects.toThrow(/READONLY/);
      attempts++;
      await sleep(100);
    }
    expect(attempts).toBeGreaterThan(5);
  });
});

describe('Sentinel: a master name the Sentinels do not know', () => {
  let topology: SentinelTopology;

  beforeAll(async () => {
    topology = await startSentinelTopology();
  });

  afterAll(async () => {
    await topology?.stop();
  });

  it('skips the runs with a line that names redis.name and the fix, and no password', async () => {
    const password = 'sentinel-data-Pa55word-91c2';
    const capture = startCapture();
    try {
      const app = await bootApp({
        redis: { sentinels: topology.sentinels, name: 'no-such-master', password },
        keyPrefix: uniquePrefix('sentinel-name'),
        logger: capture.logger,
      });
      const result = await runOnce(app, 'sentinel.named');
      await app.close();

      expect(result.reason).toBe('store-error');
      const fix = 'Fix: set redis.name to the master group of `sentinel monitor <name> …`';
      expect(result.storeErrors[0]).toContain(
        `Sentinel knows no master by the name set as redis.name. ${fix}`,
      );
      expect(capture.at('warn').join('\n')).toContain(
        `Redis connection error: Sentinel knows no master`,
      );
      expect(capture.text()).not.toContain(password);
    } finally {
      capture.stop();
    }
  });
});
