// The user's guide: a README short enough to read, whose links all lead somewhere, and docs that
// do not copy benchmark figures by hand (BENCHMARKS.md, written by the benchmark, holds them).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fork-ts.js';

const pages = [
  'README.md',
  'CONTRIBUTING.md',
  'CHANGELOG.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((file) => file.endsWith('.md'))
    .map((file) => `docs/${file}`),
];

const read = (page: string): string => readFileSync(join(REPO_ROOT, page), 'utf8');

/** The text outside fenced code blocks. */
const prose = (text: string): string => text.replace(/^```[\s\S]*?^```/gm, '');

/** GitHub's anchor for a heading. */
const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

const anchorsOf = (page: string): Set<string> =>
  new Set([...prose(read(page)).matchAll(/^#{1,6} (.+)$/gm)].map((match) => slug(match[1]!)));

describe('README.md', () => {
  const readme = read('README.md');

  it('is at most 400 lines, with a table of contents', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(400);
    expect(readme).toMatch(/^## Contents$/m);
  });

  it("keeps the repository's two commands in its Quick start", () => {
    const quickStart = readme.slice(readme.indexOf('## Quick start'));
    expect(quickStart).toContain('npm run sample');
    expect(quickStart).toContain('```sh\nnpm test\n```');
  });

  it('states the key caveats on its first screen', () => {
    const firstScreen = readme.split('\n').slice(0, 40).join('\n');
    expect(firstScreen).toContain('not a distributed scheduler');
    expect(firstScreen).toContain('half a');
    expect(firstScreen).toContain('crashed run is not re-run');
  });
});

describe.each(pages)('%s', (page) => {
  it('links only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const [, target] of prose(read(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [path, anchor] = target!.split('#') as [string, string | undefined];
      const file = path === '' ? page : normalize(join(dirname(page), path));
      if (!existsSync(join(REPO_ROOT, file))) {
        broken.push(target!);
      } else if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(file).has(anchor)) {
        broken.push(target!);
      }
    }
    expect(broken).toEqual([]);
  });
});

// The design notes record measurements behind each choice; every other page points at BENCHMARKS.md.
describe.each(pages.filter((page) => page !== 'docs/DESIGN-NOTES.md'))('%s', (page) => {
  it('copies no benchmark figure by hand', () => {
    // Measured ratios are written with two decimals (0.79x); targets with one (≥ 0.9x).
    expect(prose(read(page)).match(/\b\d\.\d\dx\b/g) ?? []).toEqual([]);
  });
});
