// The page through a store outage, in a real browser: the refresh that fails says so, and the
// first one that succeeds takes the message down again.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { uniquePrefix, waitFor } from '../support/redis.js';
import { launchBrowser } from './support/browser.js';
import { OpenGuard, startInstance, urlOf, type FleetApp } from './support/fleet.js';

describe('dashboard in a real browser while its store goes away and comes back', () => {
  let server: RedisServerHandle;
  let instance: FleetApp;
  let browser: Browser;

  beforeAll(async () => {
    server = await startRedisServer();
    instance = await startInstance(server.url, uniquePrefix('dash-outage'), 'instance-o', {
      path: '/cron-lock',
      guard: OpenGuard,
      refreshInterval: '1s',
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await instance?.app.close();
    await server?.stop();
  });

  it('shows a failed refresh while the store is down, and clears it once a refresh succeeds', async () => {
    const page = await browser.newPage();
    await page.goto(`${await urlOf(instance.app)}/cron-lock`);
    await page.waitForSelector('body[data-ready="true"]');
    const status = (): Promise<string> => page.$eval('#status', (el) => el.textContent ?? '');
    expect(await status()).toBe('');

    await server.stop();
    await waitFor(async () => (await status()).startsWith('Refresh failed'), { timeout: 30_000 });

    await server.restart();
    const refreshedBefore = await page.getAttribute('body', 'data-refreshed');
    // A refresh that succeeded after the restart (the store answers again) ...
    await waitFor(
      async () => (await page.getAttribute('body', 'data-refreshed')) !== refreshedBefore,
      { timeout: 30_000 },
    );
    // ... leaves no failure on the page.
    expect(await status()).toBe('');
    expect(await page.locator('#jobs tbody tr[data-job="sync"]').count()).toBe(1);
  }, 90_000);
});
