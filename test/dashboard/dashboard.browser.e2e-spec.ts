import type { Browser, Page } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { launchBrowser } from './support/browser.js';
import { holdLock, OpenGuard, startInstance, urlOf, type FleetApp } from './support/fleet.js';

const XSS = '<img src=x onerror=alert(1)>';

describe('dashboard in a real browser, three instances on one Redis', () => {
  let browser: Browser;
  let fleet: FleetApp[] = [];
  let url: string;
  const keyPrefix = uniquePrefix('dashboard');

  beforeAll(async () => {
    const redis = testRedisUrl();
    fleet = [
      await startInstance(redis, keyPrefix, 'instance-a', {
        path: '/ops/cron-lock',
        guard: OpenGuard,
        actions: true,
        refreshInterval: '1s',
      }),
      await startInstance(redis, keyPrefix, 'instance-b'),
      // An instance id is the user's text: the page must show it, never run it.
      await startInstance(redis, keyPrefix, XSS),
    ];
    url = `${await urlOf(fleet[0]!.app)}/ops/cron-lock`;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(fleet.map((instance) => instance.app.close()));
  });

  /** A page that records every JavaScript dialog (an executed payload would open one). */
  async function openPage(): Promise<{ page: Page; dialogs: string[] }> {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]');
    return { page, dialogs };
  }

  /** The text of one job row's cells, keyed by column header. */
  async function rowOf(page: Page, job: string): Promise<Record<string, string>> {
    const headers = await page.$$eval('#jobs thead th', (cells) =>
      cells.map((cell) => cell.textContent ?? ''),
    );
    const row = page.locator(`#jobs tbody tr[data-job="${job}"] > *`);
    const cells = await row.allTextContents();
    return Object.fromEntries(cells.map((text, i) => [headers[i]!, text.trim()]));
  }

  it('lists every job with the state the store holds', async () => {
    const hold = holdLock(fleet[1]!, 'sync');
    try {
      await waitFor(async () => (await fleet[0]!.locks.inspect('sync')).holder === 'instance-b');
      const { page } = await openPage();
      const jobs = await page.$$eval('#jobs tbody th[scope="row"]', (cells) =>
        cells.map((cell) => cell.textContent),
      );
      const inStore = (await fleet[2]!.locks.inspect()).map((job) => job.name);
      expect(jobs).toEqual(inStore);
      const sync = await rowOf(page, 'sync');
      expect(sync.Holder).toBe('instance-b');
      expect(sync.State).toContain('running');
      expect((await rowOf(page, 'reports.yearly')).State).toContain('idle');
      // The table is a real table: column headers and a row header per job.
      expect(await page.$$eval('#jobs thead th[scope="col"]', (c) => c.length)).toBeGreaterThan(9);
      await page.close();
    } finally {
      hold.stop();
      await hold.done;
    }
  });

  it('shows an instance id made of markup as text, and runs none of it', async () => {
    const hold = holdLock(fleet[2]!, 'sync');
    try {
      await waitFor(async () => (await fleet[0]!.locks.inspect('sync')).holder === XSS);
      const { page, dialogs } = await openPage();
      expect((await rowOf(page, 'sync')).Holder).toBe(XSS);
      // And again after a refresh drew the table from the JSON.
      const first = await page.getAttribute('body', 'data-refreshed');
      await page.waitForSelector(
        first === null
          ? 'body[data-refreshed]'
          : `body[data-refreshed]:not([data-refreshed="${first}"])`,
      );
      expect((await rowOf(page, 'sync')).Holder).toBe(XSS);
      expect(await page.$$('#jobs img')).toHaveLength(0);
      expect(dialogs).toEqual([]);
      await page.close();
    } finally {
      hold.stop();
      await hold.done;
    }
  });

  it('releases a lock held by another instance, after confirmation, fleet-wide', async () => {
    const hold = holdLock(fleet[1]!, 'sync');
    try {
      await waitFor(async () => (await fleet[2]!.locks.inspect('sync')).holder === 'instance-b');
      const { page } = await openPage();
      await page.waitForSelector('button[data-action="release"][data-job="sync"]:not([disabled])');
      // Keyboard only: focus the button, Enter opens the confirmation, Cancel leaves the lock.
      await page.focus('button[data-action="release"][data-job="sync"]');
      await page.keyboard.press('Enter');
      await page.waitForSelector('dialog#confirm[open]');
      expect(await page.textContent('#confirm-text')).toContain('instance-b');
      await page.click('#confirm-cancel');
      expect((await fleet[2]!.locks.inspect('sync')).holder).toBe('instance-b');

      await page.click('button[data-action="release"][data-job="sync"]');
      await page.waitForSelector('dialog#confirm[open]');
      await page.click('#confirm-ok');
      await page.waitForSelector('#status:text("released the lock of sync")');
      // Another instance sees the lock free; the holder's renewal finds it gone.
      expect((await fleet[2]!.locks.inspect('sync')).holder).toBeNull();
      await hold.lost;
      await page.waitForSelector('#jobs tr[data-job="sync"] .state:text-matches("idle|failing")');
      await page.close();
    } finally {
      hold.stop();
      await hold.done;
    }
  });

  it('pauses a job with a reason through the page, fleet-wide, and shows the reason inert', async () => {
    const { page, dialogs } = await openPage();
    await page.click('button[data-action="pause"][data-job="reports.yearly"]');
    await page.waitForSelector('dialog#confirm[open]');
    await page.fill('#confirm-reason', XSS);
    await page.click('#confirm-ok');
    await page.waitForSelector('#status:text("paused reports.yearly")');
    // Every instance reads the pause from the store.
    for (const instance of fleet) {
      const state = await instance.locks.inspect('reports.yearly');
      expect(state.paused).toBe(true);
      expect(state.pauseReason).toBe(XSS);
    }
    await page.waitForSelector('#jobs tr[data-job="reports.yearly"] .state:text("paused")');
    expect((await rowOf(page, 'reports.yearly')).Paused).toBe(`yes: ${XSS}`);
    expect(await page.$$('img')).toHaveLength(0);

    // Resume is the same button's other state, reachable by keyboard.
    await page.focus('button[data-action="resume"][data-job="reports.yearly"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#status:text("resumed reports.yearly")');
    expect((await fleet[1]!.locks.inspect('reports.yearly')).paused).toBe(false);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('triggers a job through the page: one instance runs it, as a manual run', async () => {
    const { page } = await openPage();
    await page.click('button[data-action="trigger"][data-job="reports.yearly"]');
    await page.waitForSelector('#status:text("triggered reports.yearly: running on")');
    const [entry] = await waitFor(async () => {
      const history = await fleet[1]!.locks.history('reports.yearly', { limit: 1 });
      return history[0]?.kind === 'run' && history[0].finishedAt !== null ? history : undefined;
    });
    expect(entry!.trigger).toBe('manual');
    expect(fleet.map((instance) => instance.instanceId)).toContain(entry!.instanceId);
    await page.close();
  });

  it('shows a failed run and its error message in the history, inert', async () => {
    await expect(
      fleet[1]!.locks.run('sync', { ttl: '3s' }, () => {
        throw new Error(XSS);
      }),
    ).rejects.toThrow(XSS);
    await waitFor(async () => (await fleet[0]!.locks.history('sync', { limit: 1 }))[0]?.error);
    const { page, dialogs } = await openPage();
    expect((await rowOf(page, 'sync')).State).toContain('failing');
    const cells = await page
      .locator('#histories details[data-job="sync"] tbody tr')
      .first()
      .locator('td')
      .allTextContents();
    expect(cells.join(' | ')).toContain(XSS);
    expect(cells).toContain('instance-b');
    // The timeline draws the failed run as a hollow bar, titled with the error as text.
    const titles = await page
      .locator('#jobs tr[data-job="sync"] svg .tl-bad title')
      .allTextContents();
    expect(titles.some((title) => title.includes(XSS))).toBe(true);
    expect(await page.$$('img')).toHaveLength(0);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('takes a screenshot of the page for the docs', async () => {
    const hold = holdLock(fleet[1]!, 'sync');
    try {
      await waitFor(async () => (await fleet[0]!.locks.inspect('sync')).holder === 'instance-b');
      const page = await browser.newPage({ viewport: { width: 1400, height: 520 } });
      await page.goto(url);
      await page.waitForSelector('body[data-ready="true"]');
      mkdirSync('.tmp/dashboard', { recursive: true });
      await page.screenshot({ path: '.tmp/dashboard/dashboard.png', fullPage: true });
      await page.close();
    } finally {
      hold.stop();
      await hold.done;
    }
  });
});
