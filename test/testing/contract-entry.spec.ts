import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REGISTER_TS_URL, REPO_ROOT } from '../support/fork-ts.js';

const RECORDER_URL = new URL('../integrations/fixtures/record-imports.mjs', import.meta.url).href;

/** The packages of node_modules a fresh Node process loads when it imports `specifier`. */
async function packagesLoadedBy(specifier: string): Promise<Set<string>> {
  const dir = await mkdtemp(join(tmpdir(), 'cron-lock-imports-'));
  const record = join(dir, 'imports.txt');
  try {
    await promisify(execFile)(
      process.execPath,
      [
        '--import',
        REGISTER_TS_URL,
        '--import',
        RECORDER_URL,
        '--input-type=module',
        '--eval',
        `await import(${JSON.stringify(specifier)});`,
      ],
      { cwd: REPO_ROOT, env: { ...process.env, RECORD_IMPORTS_TO: record }, timeout: 60_000 },
    );
    const urls = (await readFile(record, 'utf8')).split('\n');
    const packages = urls.flatMap((url) => {
      const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
      return match ? [match[1]!] : [];
    });
    return new Set(packages);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('nestjs-cron-lock/testing', () => {
  it('ships the LockStore contract suite without loading a test runner, so Jest users can run it too', async () => {
    const loaded = await packagesLoadedBy('nestjs-cron-lock/testing');

    expect(loaded).toContain('@nestjs/common');
    expect(
      ['vitest', '@vitest/runner', '@jest/globals', 'jest'].filter((name) => loaded.has(name)),
    ).toEqual([]);
  });
});
