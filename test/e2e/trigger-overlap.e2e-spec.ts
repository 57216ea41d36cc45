// A trigger() that finds the job's lock held: an overlap policy queues or replaces an occurrence,
// and a manual run has none, so the trigger answers `held` whatever the policy, on every built-in
// store; and the operations page and the usage guide say so, not that it goes through the policy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService, LockedCron, type LockContext } from 'nestjs-cron-lock';
import { builtInStores } from '../support/built-in-stores.js';
import { REPO_ROOT } from '../support/fork-ts.js';
import { waitFor } from '../support/redis.js';

/** The holder's gate and what it saw; reset by each test. */
const holder = { open: (): void => undefined, started: false, abortedWith: undefined as unknown };
const manualRuns: string[] = [];

async function hold(ctx: LockContext): Promise<void> {
  if (holder.started) {
    manualRuns.push(ctx.trigger);
    return;
  }
  holder.started = true;
  ctx.signal.addEventListener('abort', () => (holder.abortedWith = ctx.signal.reason));
  await new Promise<void>((resolve) => (holder.open = resolve));
}

@Injectable()
class QueueJob {
  @LockedCron('0 0 1 1 *', { name: 'trigger-overlap-queue', ttl: '5s', overlap: 'queue' })
  run(ctx: LockContext): Promise<void> {
    return hold(ctx);
  }
}

@Injectable()
class ReplaceJob {
  @LockedCron('0 0 1 1 *', { name: 'trigger-overlap-replace', ttl: '600ms', overlap: 'replace' })
  run(ctx: LockContext): Promise<void> {
    return hold(ctx);
  }
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  holder.open();
  for (const undo of cleanup.splice(0).reverse()) {
    await undo();
  }
});

describe.each(builtInStores('trigger_overlap'))(
  'trigger() of a held job on $label',
  ({ build }) => {
    it.each([
      ['queue', QueueJob, 'trigger-overlap-queue'],
      ['replace', ReplaceJob, 'trigger-overlap-replace'],
    ] as const)(
      "answers held under overlap: '%s', and leaves the running holder alone",
      async (_policy, Job, name) => {
        Object.assign(holder, { open: () => undefined, started: false, abortedWith: undefined });
        manualRuns.length = 0;
        const { store, close } = await build();
        cleanup.push(close);
        const app: TestingModule = await Test.createTestingModule({
          imports: [ScheduleModule.forRoot(), CronLockModule.forRoot({ store, logger: false })],
          providers: [Job],
        }).compile();
        cleanup.push(() => app.close());
        await app.init();
        const locks = app.get(CronLockService);

        // A call of the method holds the lock (renewed: a 'replace' would be told at a renewal).
        const running = (app.get(Job).run as (ctx?: LockContext) => Promise<void>)();
        await waitFor(() => holder.started, { message: 'the holder to start' });

        expect(await locks.trigger(name, { timeout: '5s' })).toMatchObject({
          ran: false,
          name,
          reason: 'held',
        });
        // Two renewals of the 600 ms replace job: a replaced holder would have been told by now.
        await new Promise((resolve) => setTimeout(resolve, 500));
        holder.open();
        await running;
        expect(holder.abortedWith).toBeUndefined();
        expect(manualRuns).toEqual([]);
      },
    );
  },
);

describe('the docs on a trigger() that finds the lock held', () => {
  const flat = (path: string): string =>
    readFileSync(join(REPO_ROOT, path), 'utf8').replace(/\s+/g, ' ');

  it.each(['docs/operations.md', 'docs/usage.md'])(
    '%s says it answers held, whatever the overlap policy',
    (path) => {
      const text = flat(path);
      expect(text.includes('through its lock and its overlap policy'), 'the old claim').toBe(false);
      expect(text.includes('answers `held` whatever its `overlap` policy'), 'the answer').toBe(
        true,
      );
    },
  );
});
