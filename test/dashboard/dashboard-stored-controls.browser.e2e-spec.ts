// Stored text that would reorder or drive what the operator sees, as a store of an earlier version
// or a custom store may have kept it: a pause note with a bidi override, a history entry's error
// and instance with a C1 control and bidi isolates. The page (its HTML, its JSON, and the table
// the browser draws from that JSON) shows the text in stored order, without those characters.
import type { Browser, Page } from 'playwright-core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLockStore } from 'nestjs-cron-lock';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';
import { launchBrowser, loadRefreshed } from './support/browser.js';
import { OpenGuard, startInstance, urlOf, type FleetApp } from './support/fleet.js';

/** Displayed by a browser as "maintenance by -all-admin.exe delete ok". */
const NOTE = 'maintenance by \u202eexe.nimda-lla-eteled\u202c ok';
const SHOWN_NOTE = 'maintenance by  exe.nimda-lla-eteled  ok';
const ERROR = 'Error: boom \u2067\u202ederots\u202c\u2069 \u009b2J done';
const INSTANCE = 'worker-\u2066\u202e1\u2069';

/** C1 controls and the bidi embeddings, overrides and isolates. */
const REORDERING = /[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('dashboard showing stored text with C1 controls and bidi overrides', () => {
  let browser: Browser;
  let instance: FleetApp;
  let store: RedisLockStore;
  let redis: Redis;
  let url: string;

  beforeAll(async () => {
    const keyPrefix = uniquePrefix('dash-controls');
    instance = await startInstance(testRedisUrl(), keyPrefix, 'instance-c', {
      path: '/cron-lock',
      guard: OpenGuard,
      refreshInterval: '1s',
    });
    url = `${await urlOf(instance.app)}/cron-lock`;
    store = new RedisLockStore(testRedisUrl(), { keyPrefix, logger: false });
    redis = newRedisClient();
    // Paused with a plain note, then the note rewritten as a store that checked nothing kept it.
    await store.pause('sync', { reason: 'placeholder', until: null });
    const keys = store.keysOf('sync');
    await redis.hset(keys.state, 'p_reason', NOTE);
    const at = Date.now() - 60_000;
    const entry = {
      kind: 'run',
      scheduledAt: at,
      startedAt: at,
      finishedAt: at + 5,
      durationMs: 5,
      instanceId: INSTANCE,
      trigger: 'schedule',
      outcome: 'failed',
      error: ERROR,
    };
    await redis.lpush(keys.history, JSON.stringify(entry));
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    if (store) {
      await redis.del(...Object.values(store.keysOf('sync')));
      await store.close();
    }
    await redis?.quit();
    await instance?.app.close();
  });

  /** The text of the job's cell under `header`. */
  async function cellOf(page: Page, header: string): Promise<string> {
    const headers = await page.$$eval('#jobs thead th', (cells) =>
      cells.map((cell) => cell.textContent ?? ''),
    );
    const cells = await page.locator('#jobs tbody tr[data-job="sync"] > *').allTextContents();
    return cells[headers.indexOf(header)]!.trim();
  }

  it('serves the page and its JSON without them, the text in stored order', async () => {
    const html = await (await fetch(url)).text();
    expect(html).toContain(SHOWN_NOTE);
    expect(html).not.toMatch(REORDERING);

    const json = (await (await fetch(`${url}/api/jobs`)).json()) as {
      jobs: Array<{
        name: string;
        pauseReason: string | null;
        history: Array<Record<string, unknown>>;
      }>;
    };
    const sync = json.jobs.find((job) => job.name === 'sync')!;
    expect(sync.pauseReason).toBe(SHOWN_NOTE);
    expect(sync.history).toHaveLength(1);
    expect(sync.history[0]!.error).toContain('derots');
    expect(JSON.stringify(json)).not.toMatch(REORDERING);
  });

  it('draws the pause note and the history in stored order in a real browser', async () => {
    const page = await browser.newPage();
    await loadRefreshed(page, url);

    expect(await cellOf(page, 'Paused')).toBe(`yes: ${SHOWN_NOTE}`);
    const history = await page
      .locator('#histories details[data-job="sync"] tbody tr')
      .first()
      .locator('td')
      .allTextContents();
    expect(history.join(' | ')).toContain('derots');
    expect(history.join(' | ')).not.toMatch(REORDERING);
    expect(await page.locator('body').textContent()).not.toMatch(REORDERING);
    await page.close();
  });
});
