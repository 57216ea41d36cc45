// The page's Holder column marks `(this instance)` only when the instance serving the page is the
// one holding the lock. A run that lost its lock (freed by the dashboard's release, as an operator
// frees a stuck lock) goes on here until it returns, while another instance takes the lock: the
// holder is that other instance, and the page must not call it this one: neither in the HTML the
// server writes nor in the rows the page's script redraws at each refresh. On every built-in store.
import { afterEach, describe, expect, it } from 'vitest';
import { builtInStores } from '../support/built-in-stores.js';
import { launchBrowser, loadRefreshed } from './support/browser.js';
import { holdUntilStopped } from '../support/held-run.js';
import { csrfOf, servingAndWorker } from './support/fleet.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo();
  }
});

/** The text of the Holder cell of `job`'s row in the page's HTML. */
function holderCell(html: string, job: string): string | undefined {
  const row = new RegExp(`<tr data-job="${job}">(.*?)</tr>`).exec(html)?.[1];
  return row ? [...row.matchAll(/<td[^>]*>(.*?)<\/td>/g)][1]?.[1] : undefined;
}

describe.each(builtInStores('dash_holder_here'))('dashboard holder on $label', ({ build }) => {
  it('does not call another instance’s lock this instance’s while a lost run goes on here', async () => {
    const { store, close } = await build();
    cleanup.push(close);
    const { serving: locksA, worker: locksB, page } = await servingAndWorker(store, cleanup);

    const runA = holdUntilStopped(locksA, 'sync');
    cleanup.push(() => runA.done);
    cleanup.push(async () => runA.stop());
    await runA.started;
    const { cookie, token, html } = await csrfOf(page);
    expect(holderCell(html, 'sync')).toBe('instance-a (this instance)');
    // The page's script draws the row from the JSON at its first refresh, marked while held here.
    const browser = await launchBrowser();
    cleanup.push(() => browser.close());
    const tab = await browser.newPage();
    await loadRefreshed(tab, page);
    const drawn = await tab.locator('#jobs tbody tr[data-job="sync"] > *').allTextContents();
    expect(drawn[2]?.trim()).toBe('instance-a (this instance)');

    // The operator frees the lock; instance-a's run goes on (it was told, but has not returned).
    const released = await fetch(`${page}/api/jobs/sync/release`, {
      method: 'POST',
      headers: { cookie, 'x-cron-lock-csrf': token, 'content-type': 'application/json' },
      body: JSON.stringify({ confirm: 'sync' }),
    });
    expect(released.status).toBe(200);
    const runB = holdUntilStopped(locksB, 'sync');
    cleanup.push(() => runB.done);
    cleanup.push(async () => runB.stop());
    await runB.started;
    const seenByA = await locksA.inspect('sync');
    expect({ holder: seenByA.holder, runningHere: seenByA.runningHere }).toEqual({
      holder: 'instance-b',
      runningHere: true,
    });

    const after = await (await fetch(page)).text();
    expect(holderCell(after, 'sync')).toBe('instance-b');

    // Loaded again, the page's script draws the row from the JSON at its first refresh.
    await loadRefreshed(tab, page);
    const redrawn = await tab.locator('#jobs tbody tr[data-job="sync"] > *').allTextContents();
    expect(redrawn[2]?.trim()).toBe('instance-b');
  });
});
