// Builds the package: ES modules in dist/ and CommonJS in dist/cjs/, each with its own types,
// so that `import` and `require` (Jest in a CommonJS app) both load a build of their own format.
//
//   node scripts/build.mjs
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

// A stale file from a renamed source would otherwise be packed.
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.build.cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
}
// The root package.json says "type": "module"; this one makes Node (and TypeScript, for the
// .d.ts files beside) read dist/cjs/ as CommonJS.
writeFileSync(
  new URL('../dist/cjs/package.json', import.meta.url),
  JSON.stringify({ type: 'commonjs' }, null, 2) + '\n',
);
// The PostgreSQL table's DDL, for teams whose app role has no DDL rights: shipped as a file of the
// build (exported as nestjs-cron-lock/postgres/schema.sql), so that the package holds no sources.
copyFileSync(
  new URL('../lib/stores/postgres/schema.sql', import.meta.url),
  new URL('../dist/postgres/schema.sql', import.meta.url),
);
