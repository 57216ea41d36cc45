// Anyone who may PUBLISH on a Redis prefix's trigger channel (or NOTIFY on a PostgreSQL table's)
// can answer a trigger request, and the store is shared by every version of a rolling deploy: a
// reply whose fields do not have their types is not taken. The request waits for a valid reply,
// or answers `no-live-instance` at its timeout, as if the bad one had never come. The forger is a
// raw client of each server, which writes the channel's text itself.
import { Injectable, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  RedisLockStore,
  type LockStore,
  type TriggerResult,
} from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { SKIP_REASONS } from '../../lib/observer/events.js';
import { dropTable, newPool, testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { newRedisClient, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';

/** A request as the forger reads it off the channel. */
interface HeardRequest {
  id: string;
  name: string;
}

/** What the forger sends for each request heard, in order: each a message's text. */
type Forge = (request: HeardRequest) => string[];

/** A raw client on the store's trigger channel. */
interface Forger {
  answer(forge: Forge): void;
}

@Injectable()
class YearlyJob {
  // Only so that the app listens from bootstrap, where the forger can find its channel.
  @LockedCron('0 0 1 1 *', { name: 'forged-replies-own', ttl: '5s' })
  run(): void {}
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo().catch(() => undefined);
  }
});

async function bootApp(store: LockStore): Promise<CronLockService> {
  @Module({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({ store, instanceId: 'api-1', logger: false }),
    ],
    providers: [YearlyJob],
  })
  class AppModule {}
  const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
  cleanup.push(() => app.close());
  await app.init();
  return app.get(CronLockService);
}

function forgerOn(heard: (request: HeardRequest) => void, text: string): void {
  const message = JSON.parse(text) as { kind?: unknown } & HeardRequest;
  if (message.kind === 'request') {
    heard(message);
  }
}

/** A Redis app and a second, raw ioredis client on `<prefix>:triggers`. */
async function redisSetup(): Promise<{ service: CronLockService; forger: Forger }> {
  const prefix = uniquePrefix('forged-replies');
  const store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
  cleanup.push(() => store.close());
  const service = await bootApp(store);
  const channel = `${prefix}:triggers`;
  const subscriber: Redis = newRedisClient();
  const publisher: Redis = newRedisClient();
  cleanup.push(async () => {
    subscriber.disconnect();
    publisher.disconnect();
  });
  let forge: Forge = () => [];
  await subscriber.subscribe(channel);
  subscriber.on('message', (_channel: string, text: string) =>
    forgerOn((request) => {
      // One connection, one pipeline: Redis delivers them in this order.
      const pipeline = publisher.pipeline();
      for (const reply of forge(request)) {
        pipeline.publish(channel, reply);
      }
      void pipeline.exec();
    }, text),
  );
  return { service, forger: { answer: (next) => (forge = next) } };
}

/**
 * A PostgreSQL app and a second, raw pg client on its channel, found where operators find it:
 * the app's listening connection in `pg_stat_activity`.
 */
async function postgresSetup(): Promise<{ service: CronLockService; forger: Forger }> {
  const appName = uniqueTable('forged_app');
  const pool = newPool({ application_name: appName });
  const table = uniqueTable('forged_replies');
  const store = new PostgresLockStore(pool, { table, logger: false });
  cleanup.push(async () => {
    await dropTable(pool, table);
    await pool.end();
  });
  cleanup.push(() => store.close());
  const service = await bootApp(store);
  const admin = new pg.Client({ connectionString: testPostgresUrl() });
  await admin.connect();
  cleanup.push(() => admin.end());
  const channel = await waitFor(
    async () => {
      const { rows } = await admin.query<{ query: string }>(
        `SELECT query FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'`,
        [appName],
      );
      return /^LISTEN "([^"]+)"/.exec(rows[0]?.query ?? '')?.[1];
    },
    { timeout: 20_000, message: "the app's LISTEN" },
  );
  let forge: Forge = () => [];
  await admin.query(`LISTEN "${channel}"`);
  admin.on('notification', (notification) =>
    forgerOn((request) => {
      const replies = forge(request);
      // One statement, one transaction: PostgreSQL delivers them in this order.
      if (replies.length > 0) {
        const calls = replies.map((_reply, i) => `pg_notify($1, $${i + 2})`).join(', ');
        void admin.query(`SELECT ${calls}`, [channel, ...replies]).catch(() => undefined);
      }
    }, notification.payload ?? ''),
  );
  return { service, forger: { answer: (next) => (forge = next) } };
}

type Fields = Record<string, unknown>;

const ESC_AND_PASSWORD = '\u001b[2J\u001b[31m redis://ops:hunter2@cache:6379';

/** Replies that must not be taken, each as the fields after `kind`, `id` and `name`. */
const FORGED: Array<[string, Fields | ((reply: string) => string)]> = [
  [
    'skipped, a reason with an escape and a password',
    { instanceId: 'forger', status: 'skipped', reason: `held${ESC_AND_PASSWORD}` },
  ],
  [
    'skipped, a reason with a password',
    { instanceId: 'forger', status: 'skipped', reason: 'redis://ops:hunter2@cache:6379' },
  ],
  ['skipped, a reason in capitals', { instanceId: 'forger', status: 'skipped', reason: 'Held' }],
  [
    'skipped, a reason of 33 characters',
    { instanceId: 'forger', status: 'skipped', reason: 'r'.repeat(33) },
  ],
  ['skipped, a reason that is a number', { instanceId: 'forger', status: 'skipped', reason: 7 }],
  ['skipped, no reason', { instanceId: 'forger', status: 'skipped' }],
  [
    'an instance id with an escape',
    { instanceId: `peer${ESC_AND_PASSWORD}`, status: 'skipped', reason: 'held' },
  ],
  ['an empty instance id', { instanceId: '', status: 'skipped', reason: 'held' }],
  ['a blank instance id', { instanceId: '   ', status: 'skipped', reason: 'held' }],
  [
    'an instance id of 201 characters',
    { instanceId: 'p'.repeat(201), status: 'skipped', reason: 'held' },
  ],
  [
    'an instance id with a line separator',
    { instanceId: 'peer\u2028x', status: 'skipped', reason: 'held' },
  ],
  ['an instance id with NEL', { instanceId: 'peer\u0085x', status: 'skipped', reason: 'held' }],
  ['an instance id that is a number', { instanceId: 7, status: 'skipped', reason: 'held' }],
  [
    'started, a fencing token that is text',
    {
      instanceId: 'forger',
      status: 'started',
      fencingToken: `7 ${ESC_AND_PASSWORD}`,
      scheduledAt: 1,
    },
  ],
  [
    'started, a negative fencing token',
    { instanceId: 'forger', status: 'started', fencingToken: -1, scheduledAt: 1 },
  ],
  [
    'started, a fractional fencing token',
    { instanceId: 'forger', status: 'started', fencingToken: 1.5, scheduledAt: 1 },
  ],
  [
    'started, a fencing token beyond the safe integers',
    { instanceId: 'forger', status: 'started', fencingToken: 2 ** 53, scheduledAt: 1 },
  ],
  [
    'started, a start time that is text',
    { instanceId: 'forger', status: 'started', fencingToken: 7, scheduledAt: 'now' },
  ],
  ['started, no start time', { instanceId: 'forger', status: 'started', fencingToken: 7 }],
  [
    'started, a start time beyond the safe integers (1e300)',
    { instanceId: 'forger', status: 'started', fencingToken: 7, scheduledAt: 1e300 },
  ],
  [
    'started, a start time past the last date a Date holds (8.64e15 + 1)',
    { instanceId: 'forger', status: 'started', fencingToken: 7, scheduledAt: 8.64e15 + 1 },
  ],
  [
    'finished, a fencing token that is text',
    {
      instanceId: 'forger',
      status: 'finished',
      fencingToken: 'NaN\u001b[31m',
      outcome: 'completed',
      durationMs: 5,
    },
  ],
  [
    'finished, an outcome with an escape',
    {
      instanceId: 'forger',
      status: 'finished',
      fencingToken: 7,
      outcome: 'completed\u001b[5m',
      durationMs: 5,
    },
  ],
  [
    'finished, the outcome only the caller gives (unknown)',
    {
      instanceId: 'forger',
      status: 'finished',
      fencingToken: 7,
      outcome: 'unknown',
      durationMs: 5,
    },
  ],
  [
    'finished, a duration that is text',
    {
      instanceId: 'forger',
      status: 'finished',
      fencingToken: 7,
      outcome: 'failed',
      durationMs: 'x',
    },
  ],
  [
    'finished, a negative duration',
    {
      instanceId: 'forger',
      status: 'finished',
      fencingToken: 7,
      outcome: 'failed',
      durationMs: -1,
    },
  ],
  [
    'finished, a fractional duration',
    {
      instanceId: 'forger',
      status: 'finished',
      fencingToken: 7,
      outcome: 'completed',
      durationMs: 1.5,
    },
  ],
  [
    'finished, a duration beyond the safe integers',
    {
      instanceId: 'forger',
      status: 'finished',
      fencingToken: 7,
      outcome: 'completed',
      durationMs: 2 ** 53,
    },
  ],
  [
    'finished, a duration of null',
    {
      instanceId: 'forger',
      status: 'finished',
      fencingToken: 7,
      outcome: 'failed',
      durationMs: null,
    },
  ],
  [
    'finished, an infinite duration (1e999 in the text)',
    (reply) => reply.replace('"durationMs":5', '"durationMs":1e999'),
  ],
];

/**
 * Replies that are taken though no instance of this version sends them, each with what
 * `trigger()` resolves with: a newer version's skip reason, ids at the edge of what the module
 * takes for its own, the last start time a `Date` holds; and one this version sends, the fencing
 * token 0 of a run started without the lock.
 */
const TAKEN: Array<[string, Fields, TriggerResult]> = [
  [
    'skipped, a well-formed reason this version does not know',
    { instanceId: 'peer-1', status: 'skipped', reason: 'brand-new-reason' },
    { ran: false, name: 'ghost', reason: 'brand-new-reason', instanceId: 'peer-1' },
  ],
  [
    'skipped, a reason of 32 characters',
    { instanceId: 'peer-1', status: 'skipped', reason: 'r'.repeat(32) },
    { ran: false, name: 'ghost', reason: 'r'.repeat(32), instanceId: 'peer-1' },
  ],
  ...SKIP_REASONS.map((reason): [string, Fields, TriggerResult] => [
    `skipped, this version's reason ${reason}`,
    { instanceId: 'peer-1', status: 'skipped', reason },
    { ran: false, name: 'ghost', reason, instanceId: 'peer-1' },
  ]),
  [
    'an instance id of 200 characters',
    { instanceId: 'p'.repeat(200), status: 'skipped', reason: 'held' },
    { ran: false, name: 'ghost', reason: 'held', instanceId: 'p'.repeat(200) },
  ],
  [
    'an instance id beyond ASCII',
    { instanceId: 'höst-ñame-日本語:1234:abcd', status: 'skipped', reason: 'held' },
    { ran: false, name: 'ghost', reason: 'held', instanceId: 'höst-ñame-日本語:1234:abcd' },
  ],
  [
    // What an instance sends for a run `onStoreError: 'run'` started without the lock.
    'started, a fencing token of 0',
    { instanceId: 'peer-1', status: 'started', fencingToken: 0, scheduledAt: 1 },
    { ran: true, name: 'ghost', instanceId: 'peer-1', fencingToken: 0, scheduledAt: new Date(1) },
  ],
  [
    'started, at the last date a Date holds (8.64e15)',
    { instanceId: 'peer-1', status: 'started', fencingToken: 7, scheduledAt: 8.64e15 },
    {
      ran: true,
      name: 'ghost',
      instanceId: 'peer-1',
      fencingToken: 7,
      scheduledAt: new Date(8.64e15),
    },
  ],
];

/** The text of one reply to `request`: `fields`, or a valid reply that `fields` rewrites. */
function replyText(request: HeardRequest, fields: Fields | ((reply: string) => string)): string {
  const base = { kind: 'reply', id: request.id, name: request.name };
  if (typeof fields === 'function') {
    const valid = {
      ...base,
      instanceId: 'forger',
      status: 'finished',
      fencingToken: 7,
      outcome: 'completed',
      durationMs: 5,
    };
    return fields(JSON.stringify(valid));
  }
  return JSON.stringify({ ...base, ...fields });
}

describe.each([
  { label: 'Redis', setup: redisSetup },
  { label: 'PostgreSQL', setup: postgresSetup },
])('a reply forged on the $label trigger channel', ({ setup }) => {
  it.each(FORGED)('is not taken (%s): the valid reply after it is', async (_label, fields) => {
    const { service, forger } = await setup();
    forger.answer((request) => [
      replyText(request, fields),
      replyText(request, { instanceId: 'peer-1', status: 'skipped', reason: 'held' }),
    ]);

    const result = await service.trigger('ghost', { timeout: '10s' });

    expect(result).toEqual({ ran: false, name: 'ghost', reason: 'held', instanceId: 'peer-1' });
  });

  it.each(TAKEN)('is taken (%s)', async (_label, fields, expected) => {
    const { service, forger } = await setup();
    forger.answer((request) => [replyText(request, fields)]);

    const result = await service.trigger('ghost', { timeout: '10s' });

    expect(result).toEqual(expected);
  });

  it('leaves a request only forged replies answer to its timeout: no-live-instance', async () => {
    const { service, forger } = await setup();
    forger.answer((request) =>
      FORGED.filter(([label]) => label.startsWith('started')).map(([, fields]) =>
        replyText(request, fields),
      ),
    );

    const result = await service.trigger('ghost', { timeout: '2s' });

    expect(result).toEqual({ ran: false, name: 'ghost', reason: 'no-live-instance' });
  });
});
