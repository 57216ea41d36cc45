/** What one scenario reports: a table, how to read it, and its targets. */
export interface Section {
  title: string;
  /** What was measured and how, in a sentence or two. */
  method: string;
  headers: string[];
  rows: string[][];
  /** Targets from the design's cost model; informative only (nothing timed fails the run). */
  targets: Target[];
  notes?: string[];
}

export interface Target {
  label: string;
  met: boolean;
  measured: string;
}

/** Settings shared by every scenario. */
export interface BenchConfig {
  quick: boolean;
  /** Also run the fleet-scale scenario with ten times the jobs (a full run, or `--fleet-10x`). */
  fleet10x?: boolean;
  redisUrl: string;
  /** Log progress lines to stderr. */
  progress: (line: string) => void;
}

export function renderText(section: Section): string {
  const widths = section.headers.map((header, column) =>
    Math.max(header.length, ...section.rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]))
      .join('  ')
      .trimEnd();
  const out = [
    `== ${section.title}`,
    line(section.headers),
    line(widths.map((width) => '-'.repeat(width))),
    ...section.rows.map(line),
  ];
  for (const target of section.targets) {
    out.push(`  target: ${target.label} -> ${target.measured} [${target.met ? 'met' : 'NOT met'}]`);
  }
  for (const note of section.notes ?? []) {
    out.push(`  note: ${note}`);
  }
  return out.join('\n');
}

export function renderMarkdown(section: Section): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const out = [
    `## ${section.title}`,
    '',
    section.method,
    '',
    `| ${section.headers.map(escape).join(' | ')} |`,
    `| ${section.headers.map(() => '---').join(' | ')} |`,
    ...section.rows.map((row) => `| ${row.map(escape).join(' | ')} |`),
    '',
  ];
  if (section.targets.length > 0) {
    out.push('| Target | Measured | Met |', '| --- | --- | --- |');
    for (const target of section.targets) {
      out.push(
        `| ${escape(target.label)} | ${escape(target.measured)} | ${target.met ? 'yes' : '**no**'} |`,
      );
    }
    out.push('');
  }
  for (const note of section.notes ?? []) {
    out.push(`- ${note}`);
  }
  if ((section.notes ?? []).length > 0) {
    out.push('');
  }
  return out.join('\n');
}
