import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** What `require('ioredis')` gives: the classes an app builds its clients with. */
export type IoredisModule = typeof import('ioredis');

export interface OtherIoredis {
  /** The second copy's exports: `Redis` and `Cluster` are other classes than the library's. */
  readonly ioredis: IoredisModule;
  /** Removes the copy (its modules stay loaded in this process). */
  remove(): void;
}

export interface OtherIoredisOptions {
  /**
   * Copies `redis-errors` beside it too, rather than linking the installed one, as a nested
   * install of ioredis brings its own: the `ReplyError` of a server's refusal through that copy is
   * then another class than the library's `ReplyError`.
   */
  readonly ownRedisErrors?: boolean;
}

/**
 * A second copy of the installed ioredis, loaded from its own directory, as an app whose ioredis
 * is another install than the library's (a nested node_modules, another minor version) has one:
 * its `Redis` and `Cluster` pass no `instanceof` check of the library's classes. Its dependencies
 * are the installed ones, linked beside it (`redis-errors` copied with `ownRedisErrors`).
 */
export function loadOtherIoredis(options: OtherIoredisOptions = {}): OtherIoredis {
  const fromHere = createRequire(import.meta.url);
  const manifest = fromHere.resolve('ioredis/package.json');
  const root = mkdtempSync(join(tmpdir(), 'cron-lock-other-ioredis-'));
  const modules = join(root, 'node_modules');
  cpSync(dirname(manifest), join(modules, 'ioredis'), { recursive: true, dereference: true });
  const { dependencies = {} } = JSON.parse(readFileSync(manifest, 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  const fromInstalled = createRequire(manifest);
  for (const name of Object.keys(dependencies)) {
    const link = join(modules, name);
    const installed = dirname(fromInstalled.resolve(`${name}/package.json`));
    mkdirSync(dirname(link), { recursive: true });
    if (name === 'redis-errors' && options.ownRedisErrors === true) {
      cpSync(installed, link, { recursive: true, dereference: true });
    } else {
      symlinkSync(installed, link, 'dir');
    }
  }
  const ioredis = createRequire(join(root, 'app.js'))('ioredis') as IoredisModule;
  return { ioredis, remove: () => rmSync(root, { recursive: true, force: true }) };
}
