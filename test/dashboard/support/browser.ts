import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * The system's Chromium (Debian's `chromium` package, or CHROMIUM_PATH), driven by
 * playwright-core: no browser download. Headless; without the sandbox when run as root (CI
 * containers), which Chromium refuses otherwise.
 */
export function chromiumPath(): string {
  const candidates = [
    process.env.CHROMIUM_PATH,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ];
  const found = candidates.find((path): path is string => !!path && existsSync(path));
  if (!found) {
    throw new Error(
      'No Chromium found for the dashboard tests. Install it (Debian/Ubuntu: apt-get install chromium) ' +
        'or set CHROMIUM_PATH to a Chromium or Chrome binary.',
    );
  }
  return found;
}

export function launchBrowser(): Promise<Browser> {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: asRoot ? ['--no-sandbox'] : [],
  });
}

/**
 * Loads the dashboard at `url` in `tab` and waits for its script's first refresh: the rows are
 * then the ones the script drew from the JSON, not the server's HTML.
 */
export async function loadRefreshed(tab: Page, url: string): Promise<void> {
  await tab.goto(url);
  await tab.waitForSelector('body[data-ready="true"]');
  await tab.waitForSelector('body[data-refreshed]');
}
