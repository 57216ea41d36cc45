import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './fork-ts.js';

/**
 * Builds the package once for the whole test run when `dist/` lacks a build: the CI builds
 * before it tests, but a plain `npm test` in a fresh clone does not, and the tests that pack the
 * package must not each build it (the build empties `dist/` first, so two at once break both).
 */
export function ensureBuilt(): void {
  if (existsSync(join(REPO_ROOT, 'dist/index.js')) && existsSync(join(REPO_ROOT, 'dist/cjs'))) {
    return;
  }
  console.log('[test] building the package (no build in dist/ yet)');
  execFileSync(process.execPath, ['scripts/build.mjs'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    timeout: 300_000,
  });
}
