import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REGISTER_TS_URL, REPO_ROOT } from '../support/fork-ts.js';

const RECORDER_URL = new URL('./fixtures/record-imports.mjs', import.meta.url).href;
const OPTIONAL_PEERS = [
  'prom-client',
  '@nestjs/terminus',
  '@nestjs/event-emitter',
  '@nestjs/testing',
];

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

describe('optional peers', () => {
  it('the root entry loads none of them', async () => {
    const loaded = await packagesLoadedBy('nestjs-cron-lock');

    expect(loaded).toContain('@nestjs/common');
    expect(loaded).toContain('ioredis');
    expect(OPTIONAL_PEERS.filter((peer) => loaded.has(peer))).toEqual([]);
  });

  it.each([
    ['nestjs-cron-lock/prometheus', 'prom-client'],
    ['nestjs-cron-lock/terminus', '@nestjs/terminus'],
    ['nestjs-cron-lock/event-emitter', '@nestjs/event-emitter'],
  ])('%s loads %s, and no other optional peer', async (entry, peer) => {
    const loaded = await packagesLoadedBy(entry);

    expect(OPTIONAL_PEERS.filter((name) => loaded.has(name))).toEqual([peer]);
  });

  it('nestjs-cron-lock/dashboard loads no HTTP adapter and no optional peer', async () => {
    const loaded = await packagesLoadedBy('nestjs-cron-lock/dashboard');

    expect(loaded).toContain('@nestjs/common');
    expect(
      [
        '@nestjs/platform-express',
        '@nestjs/platform-fastify',
        'express',
        'fastify',
        ...OPTIONAL_PEERS,
      ].filter((name) => loaded.has(name)),
    ).toEqual([]);
  });
});
