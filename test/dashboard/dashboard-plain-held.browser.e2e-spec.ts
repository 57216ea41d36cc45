// A lock held by a plain `run()` (no occurrence, no record) records no holder: `inspect()` gives
// its ttl and `holder: null`. The dashboard lists such a name (any `run()` name on PostgreSQL, a
// name with a recorded run before on Redis) and must still show it as the guide says: State
// `running` (a lock is held somewhere) and Release enabled (while a lock is held), in the HTML the
// server writes, the JSON, and the rows the page's script redraws. On every built-in store.
import { afterEach, describe, expect, it } from 'vitest';
import { type DashboardSnapshot } from 'nestjs-cron-lock/dashboard';
import { builtInStores } from '../support/built-in-stores.js';
import { launchBrowser, loadRefreshed } from './support/browser.js';
import { holdUntilStopped } from '../support/held-run.js';
import { servingAndWorker } from './support/fleet.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo();
  }
});

const NAME = 'rebuild-index';

/** The state cell's text and whether the Release button is disabled, in the server's HTML. */
function rowOf(html: string): { state: string | undefined; releaseDisabled: boolean } {
  const row = new RegExp(`<tr data-job="${NAME}">(.*?)</tr>`).exec(html)?.[1] ?? '';
  return {
    state: /class="state state-([a-z]+)"/.exec(row)?.[1],
    releaseDisabled: /<button[^>]*data-action="release"[^>]*disabled/.test(row),
  };
}

describe.each(builtInStores('dash_plain_held'))(
  'dashboard, a plain lock held on $label',
  ({ build }) => {
    it('shows the job running with Release enabled while a plain lock holds it', async () => {
      const { store, close } = await build();
      cleanup.push(close);
      const { serving, worker, page } = await servingAndWorker(store, cleanup);

      // A recorded run first, so that every store lists the name; then a plain lock holds it.
      const recorded = await serving.run(NAME, { record: true }, () => 'ok');
      expect(recorded.ran).toBe(true);
      const plain = holdUntilStopped(worker, NAME);
      cleanup.push(() => plain.done);
      cleanup.push(async () => plain.stop());
      await plain.started;

      const snapshot = (await (await fetch(`${page}/api/jobs`)).json()) as DashboardSnapshot;
      const job = snapshot.jobs.find((candidate) => candidate.name === NAME);
      expect(job?.ttlLeftMs).not.toBeNull();
      expect(job?.status).toBe('running');
      expect(rowOf(await (await fetch(page)).text())).toEqual({
        state: 'running',
        releaseDisabled: false,
      });

      // The page's script draws the row again from the JSON at its next refresh.
      const browser = await launchBrowser();
      cleanup.push(() => browser.close());
      const tab = await browser.newPage();
      await loadRefreshed(tab, page);
      const release = tab.locator(
        `#jobs tbody tr[data-job="${NAME}"] button[data-action="release"]`,
      );
      expect(await release.isDisabled()).toBe(false);
      // Its confirmation names the holder, or says it is unknown where the store records none.
      const cells = await tab.locator(`#jobs tbody tr[data-job="${NAME}"] > *`).allTextContents();
      const holder = cells[2]?.trim();
      await release.click();
      expect(await tab.textContent('#confirm-text')).toContain(
        holder === '\u2014' ? 'Held by an unknown instance.' : `Held by ${holder}.`,
      );
      await tab.click('#confirm-cancel');
    });
  },
);
