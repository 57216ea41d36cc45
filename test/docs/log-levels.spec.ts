// The `logLevels` module option in the usage guide, read against the code: every key it takes is
// listed with its default, and the lines that have no key (a fixed level) are not offered as
// ones the option re-levels. A key the option does not have fails the bootstrap, never dropped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOG_LEVELS, resolveLogLevels } from '../../lib/observer/logger.js';
import { REPO_ROOT } from '../support/fork-ts.js';

/** The guide's text from the paragraph on `logLevels` to the next paragraph after its table. */
function logLevelsSection(): string {
  const usage = readFileSync(join(REPO_ROOT, 'docs/usage.md'), 'utf8');
  const start = usage.indexOf('What gets logged, and at which level');
  expect(start, 'the log levels section of docs/usage.md').toBeGreaterThan(-1);
  return usage.slice(start, usage.indexOf("A tick's error is logged once", start));
}

/** `| \`key\` | default | … |` rows of the section: key → default cell. */
function documentedKeys(section: string): Map<string, string> {
  const rows = [...section.matchAll(/^\| `(\w+)` +\| ([^|]+?) +\|/gm)];
  return new Map(rows.map((row) => [row[1]!, row[2]!]));
}

describe('the logLevels option in docs/usage.md', () => {
  it('lists every key of logLevels with its default, and no other', () => {
    const documented = documentedKeys(logLevelsSection());
    expect([...documented.keys()].sort()).toEqual(Object.keys(DEFAULT_LOG_LEVELS).sort());
    for (const [kind, level] of Object.entries(DEFAULT_LOG_LEVELS)) {
      expect(documented.get(kind), kind).toBe(level === false ? '`false`' : `\`'${level}'\``);
    }
  });

  it('says which lines have a fixed level, and the option refuses a key for them', () => {
    const section = logLevelsSection().replace(/\s+/g, ' ');
    expect(section, 'a sentence on the lines with a fixed level').toContain('fixed level');
    const fixed = section.slice(section.indexOf('fixed level'));
    expect(fixed).toMatch(/missed occurrences[^.]*`warn`/);
    expect(fixed).toMatch(/a pause, a resume, a trigger taken or\s+refused[^.]*`log`/);
    for (const kind of ['missed', 'paused', 'resumed', 'triggered', 'triggerTaken']) {
      expect(resolveLogLevels({ [kind]: false }), kind).toEqual([
        `logLevels.${kind}`,
        expect.stringContaining('(unknown kind)'),
        kind,
      ]);
    }
  });
});
