// Checks the packed tarball with the ecosystem's own tools: publint (manifest, exports map,
// files) and @arethetypeswrong/cli (types under node10, node16 from CommonJS and from ESM, and
// bundler resolution). Exits non-zero on any problem.
//
//   npm run check:package [-- --no-build]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pack, root } from './pack.mjs';

const bin = (name) => join(root, 'node_modules', '.bin', name);
const tarball = pack({ build: !process.argv.includes('--no-build') });
console.log(`checking ${tarball}`);

for (const [tool, args] of [
  ['publint', ['--strict', tarball]],
  // The SQL file is an export for users to apply by hand, not a module with types.
  ['attw', [tarball, '--format', 'table', '--exclude-entrypoints', 'postgres/schema.sql']],
]) {
  try {
    execFileSync(bin(tool), args, { cwd: root, stdio: 'inherit' });
  } catch {
    console.error(`check:package: ${tool} found problems in the packed tarball (see above)`);
    process.exit(1);
  }
}
