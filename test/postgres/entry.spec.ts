import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LIB = fileURLToPath(new URL('../../lib/', import.meta.url));

/**
 * Every package a source file loads at start-up, following its static relative imports (type-only
 * imports and dynamic `import()` load nothing then).
 */
function packagesLoadedBy(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(
      /^(?:import|export)\s+(?!type\b)(?:[\w$*{},\s]+?\s+from\s+)?'([^']+)';/gm,
    )) {
      const target = match[1];
      if (target.startsWith('.')) {
        visit(resolve(dirname(file), target.replace(/\.js$/, '.ts')));
      } else {
        packages.add(target);
      }
    }
  };
  visit(resolve(LIB, entry));
  return packages;
}

describe('package entries', () => {
  it('the root entry and the CLI do not load pg (an optional peer); nestjs-cron-lock/postgres does', () => {
    expect(packagesLoadedBy('index.ts').has('pg')).toBe(false);
    expect(packagesLoadedBy('cli/main.ts').has('pg')).toBe(false);
    expect(packagesLoadedBy('postgres/index.ts').has('pg')).toBe(true);
  });
});
