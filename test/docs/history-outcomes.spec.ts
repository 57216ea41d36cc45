// What the usage guide and the public type say each history outcome means matches what the runner
// records: `aborted` is a run replaced under `overlap: 'replace'` (its signal aborted with a
// ReplacedError, see test/e2e/overlap-history.e2e-spec.ts). A run that shutdown gives up on is
// never released, so it has no entry at all: an outcome said to mean "aborted by shutdown" sends
// an operator after the wrong cause.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HistoryOutcome } from '../../lib/stores/job-state.interface.js';
import { REPO_ROOT } from '../support/fork-ts.js';

/** Every outcome a history entry can have: an outcome added to the type must be placed here. */
const OUTCOMES = Object.keys({
  completed: true,
  failed: true,
  lost: true,
  aborted: true,
} satisfies Record<HistoryOutcome, true>);

function read(path: string): string {
  return readFileSync(join(REPO_ROOT, path), 'utf8');
}

/** The text that describes `aborted` in `text`: from its name to the next outcome or the end. */
function abortedPart(text: string): string {
  const start = text.indexOf('`aborted`');
  expect(start).toBeGreaterThan(-1);
  return text.slice(start);
}

describe('the history outcomes in the docs', () => {
  it("says in the usage guide's history table that aborted is a run replaced under overlap 'replace'", () => {
    const usage = read('docs/usage.md');
    const row = usage.split('\n').find((line) => /^\s*\| `outcome`\s+\|/.test(line));
    expect(row).toBeDefined();
    for (const outcome of OUTCOMES) {
      expect(row, outcome).toContain(`\`${outcome}\``);
    }
    const aborted = abortedPart(row!);
    expect(aborted).toContain("overlap: 'replace'");
    expect(aborted).not.toMatch(/aborted by shutdown/);
  });

  it("says in HistoryOutcome's JSDoc that aborted is a run replaced under overlap 'replace'", () => {
    const source = read('lib/stores/job-state.interface.ts');
    const declaration = source.indexOf('export type HistoryOutcome');
    expect(declaration).toBeGreaterThan(-1);
    const jsdoc = source
      .slice(source.lastIndexOf('/**', declaration), declaration)
      .replace(/\s*\*\s*/g, ' ');
    const aborted = abortedPart(jsdoc);
    expect(aborted).toContain("overlap: 'replace'");
    expect(aborted).not.toMatch(/aborted by shutdown/);
  });
});
