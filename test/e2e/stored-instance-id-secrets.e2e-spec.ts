// An instance of an older version took a connection string as its instanceId, and wrote it into
// the store: as a lock's holder (while it holds it), as the instance of its history entries (for
// historySize runs); and a trigger reply may name one (anyone who may publish on the channel).
// App code logs what CronLockService answers, so the service hands it out with the URL's password
// hidden, as the CLI and the dashboard show it, on every built-in store.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService, LockedCron, type LockStore } from 'nestjs-cron-lock';
import { builtInStores } from '../support/built-in-stores.js';

const ID = 'redis://u:s3cret@h:6379';
const SHOWN = 'redis://u:***@h:6379';
const MINUTE = 60_000;
/** Minutes well in the past: every occurrence written is due, none ahead of the store's clock. */
const BASE = Date.now() - (Date.now() % MINUTE) - 60 * MINUTE;

@Injectable()
class ReportJob {
  // Once a year: no scheduler tick gets in the way.
  @LockedCron('0 0 1 1 *', { name: 'reports' })
  async run(): Promise<void> {}
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo();
  }
});

/**
 * What the older instance leaves through the store's own API, as it wrote it: a run of `reports`
 * with the occurrence before it found missed, in the history, and the lock of the next one held.
 */
async function writeAsOlderInstance(store: LockStore): Promise<void> {
  const token = randomBytes(16).toString('hex');
  const ran = await store.acquire({
    name: 'reports',
    token,
    ttl: 600_000,
    scheduledAt: BASE + MINUTE,
    instanceId: ID,
  });
  expect(ran.acquired).toBe(true);
  const fencingToken = ran.acquired ? ran.fencingToken : 0;
  const released = await store.release({
    name: 'reports',
    token,
    historySize: 10,
    missed: [BASE],
    outcome: {
      status: 'completed',
      durationMs: 5,
      finishedAt: BASE + MINUTE + 5,
      run: {
        scheduledAt: BASE + MINUTE,
        startedAt: BASE + MINUTE,
        fencingToken,
        instanceId: ID,
        trigger: 'schedule',
        outcome: 'completed',
        error: null,
      },
    },
  });
  expect(released).toBe(true);
  const held = await store.acquire({
    name: 'reports',
    token: randomBytes(16).toString('hex'),
    ttl: 600_000,
    scheduledAt: BASE + 2 * MINUTE,
    instanceId: ID,
  });
  expect(held.acquired).toBe(true);
}

async function boot(store: LockStore): Promise<CronLockService> {
  const app: TestingModule = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), CronLockModule.forRoot({ store, logger: false })],
    providers: [ReportJob],
  }).compile();
  cleanup.push(() => app.close());
  await app.init();
  return app.get(CronLockService);
}

describe.each(builtInStores('stored_instance_id'))(
  'an instance id with a password, written by an older instance, on $label',
  ({ build }) => {
    it("inspect() answers the lock's holder with the password hidden", async () => {
      const { store, close } = await build();
      cleanup.push(close);
      await writeAsOlderInstance(store);
      const locks = await boot(store);

      const one = await locks.inspect('reports');
      const all = await locks.inspect();

      expect(one).toMatchObject({ name: 'reports', holder: SHOWN, runningHere: false });
      expect(all.find((job) => job.name === 'reports')?.holder).toBe(SHOWN);
      expect(JSON.stringify([one, all])).not.toContain('s3cret');
    });

    it('history() answers the instance of each entry with the password hidden', async () => {
      const { store, close } = await build();
      cleanup.push(close);
      await writeAsOlderInstance(store);
      const locks = await boot(store);

      const entries = await locks.history('reports');

      expect(entries.map((entry) => [entry.kind, entry.instanceId])).toEqual([
        ['run', SHOWN],
        ['missed', SHOWN],
      ]);
      expect(JSON.stringify(entries)).not.toContain('s3cret');
    });

    it('trigger() answers the instance a reply names with the password hidden', async () => {
      const { store, close } = await build();
      cleanup.push(close);
      const locks = await boot(store);
      // The older instance has the jobs this app lacks: it answers `exports` as run and
      // completed, `archive` as skipped (a run of it in progress).
      const subscription = await store.triggers!.subscribe((message) => {
        if (message.kind !== 'request') {
          return;
        }
        const reply = {
          kind: 'reply' as const,
          id: message.id,
          name: message.name,
          instanceId: ID,
        };
        if (message.name === 'exports') {
          void store.triggers!.publish({
            ...reply,
            status: 'finished',
            fencingToken: 2,
            outcome: 'completed',
            durationMs: 5,
          });
        } else if (message.name === 'archive') {
          void store.triggers!.publish({ ...reply, status: 'skipped', reason: 'held' });
        }
      });
      cleanup.push(() => subscription.close());

      const ran = await locks.trigger('exports', { timeout: '5s' });
      const skipped = await locks.trigger('archive', { timeout: '5s' });

      expect(ran).toMatchObject({ ran: true, instanceId: SHOWN, outcome: 'completed' });
      expect(skipped).toMatchObject({ ran: false, reason: 'held', instanceId: SHOWN });
      expect(JSON.stringify([ran, skipped])).not.toContain('s3cret');
    });
  },
);
