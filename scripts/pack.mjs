// Packs the package as `npm publish` would, into .tmp/pack/, and prints the tarball's path.
// Builds first unless --no-build is given (the CI has just built).
//
//   node scripts/pack.mjs [--no-build]
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Builds (unless `build` is false) and packs; returns the tarball's absolute path. */
export function pack({ build = true } = {}) {
  if (build) {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  }
  const destination = fileURLToPath(new URL('../.tmp/pack/', import.meta.url));
  rmSync(destination, { recursive: true, force: true });
  mkdirSync(destination, { recursive: true });
  // --ignore-scripts: prepack would build a second time.
  const report = execFileSync(
    npm,
    ['pack', '--json', '--ignore-scripts', '--pack-destination', destination],
    { cwd: root, encoding: 'utf8' },
  );
  return destination + JSON.parse(report)[0].filename;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(pack({ build: !process.argv.includes('--no-build') }));
}
