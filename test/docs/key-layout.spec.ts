// The key layout in the guarantees page, read against the keys a real redis-server holds after a
// job ran, was paused, resumed and triggered: every key the store writes is listed, with its slot.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService, LockedCron } from 'nestjs-cron-lock';
import { REPO_ROOT } from '../support/fork-ts.js';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';

@Injectable()
class YearlyJob {
  @LockedCron('0 0 1 1 *', { name: 'layout-job', ttl: '5s' })
  run(): void {}
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo();
  }
});

/** The key patterns of the layout block, e.g. `<prefix>:{<name>}:lock`. */
function documentedKeys(): string[] {
  const page = readFileSync(join(REPO_ROOT, 'docs/guarantees.md'), 'utf8');
  const start = page.indexOf('- **Key layout.**');
  const block = page.slice(start, page.indexOf('```', page.indexOf('```', start) + 3));
  return [...block.matchAll(/^\s*(<prefix>:\S+)/gm)].map((match) => match[1]!);
}

describe('the key layout in docs/guarantees.md', () => {
  it('lists every key the Redis store writes for a job', async () => {
    const keyPrefix = uniquePrefix('layout');
    const app: TestingModule = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ redis: testRedisUrl(), keyPrefix, logger: false }),
      ],
      providers: [YearlyJob],
    }).compile();
    cleanup.push(() => app.close());
    await app.init();
    const locks = app.get(CronLockService);
    let open!: () => void;
    const running = locks.run(
      'layout-job',
      { ttl: '5s' },
      () => new Promise<void>((r) => (open = r)),
    );
    await locks.pause('layout-job');
    await locks.resume('layout-job');
    open();
    await running;
    expect(await locks.trigger('layout-job')).toMatchObject({ ran: true });

    const redis: Redis = newRedisClient();
    cleanup.push(() => redis.quit());
    const keys = await redis.keys(`${keyPrefix}:*`);
    const patterns = new Set(
      keys.map((key) =>
        key
          .replace(keyPrefix, '<prefix>')
          .replace('{layout-job}', '{<name>}')
          .replace(/:trigger:[^:]+$/, ':trigger:<id>'),
      ),
    );
    expect([...patterns].sort()).toEqual(
      expect.arrayContaining([
        '<prefix>:{<name>}:history',
        '<prefix>:{<name>}:state',
        '<prefix>:{<name>}:trigger:<id>',
      ]),
    );
    for (const pattern of patterns) {
      expect(documentedKeys(), pattern).toContain(pattern);
    }
  });
});
