// The TypeScript examples of the user's guide, as a reader pastes them into an app: every block
// that imports from the package is type-checked against the entry points (`nestjs-cron-lock` and
// its subpaths, as the published `exports` resolve them), so a renamed export, an option that
// does not exist, a class used before its declaration (a `ReferenceError` when the file loads) or
// a name from the package or Nest left unimported cannot stay in the docs. The README's own app and test examples also run in the consumer apps.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fork-ts.js';

const pages = [
  'README.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((file) => file.endsWith('.md') && file !== 'DESIGN-NOTES.md')
    .map((file) => `docs/${file}`),
];

interface Example {
  /** `docs/usage.md:48`: the page and the line of the block's first line of code. */
  where: string;
  file: string;
  code: string;
}

/** The ```ts blocks of a page that import from the package: whole files, not fragments. */
function examplesOf(page: string): Example[] {
  const lines = readFileSync(join(REPO_ROOT, page), 'utf8').split('\n');
  const examples: Example[] = [];
  for (let start = 0; start < lines.length; start++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[start]!)) continue;
    let end = start + 1;
    while (!lines[end]!.startsWith('```')) end++;
    const code = lines.slice(start + 1, end).join('\n');
    if (/^import .* from 'nestjs-cron-lock(\/[a-z-]+)?';$/m.test(code)) {
      const where = `${page}:${start + 2}`;
      const file = join(REPO_ROOT, '.docs-examples', `${where.replace(/[/:.]/g, '_')}.ts`);
      examples.push({ where, file, code: `${code}\nexport {};\n` });
    }
    start = end;
  }
  return examples;
}

/**
 * What an example may leave to the reader: its own services, modules and helpers (`AppModule`,
 * `notify()`, `./reports.service`), and the test runner's globals. Anything else is a mistake in
 * the example.
 */
const LEFT_TO_THE_READER = new Set([
  2304, // Cannot find name 'X'.
  2552, // Cannot find name 'X'. Did you mean 'Y'?
  2582, // Cannot find name 'it' (a test runner's global).
  2593, // Cannot find name 'describe' (a test runner's global).
]);

/**
 * The modules an example's names come from when they are not the reader's own: the package's
 * entry points and the Nest packages every app has. An example that imports from the package is
 * a file to paste, so a name one of these exports (`Module`, `ScheduleModule`, `CronLockModule`)
 * must be imported, or the pasted file fails with "Cannot find name". (`@nestjs/testing` is left
 * out: its recipes are lines for the starter's e2e test, which imports `Test` already.)
 */
const FRAMEWORK_MODULES = [
  'nestjs-cron-lock',
  ...['testing', 'postgres', 'prometheus', 'terminus', 'event-emitter', 'dashboard'].map(
    (entry) => `nestjs-cron-lock/${entry}`,
  ),
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/schedule',
  '@nestjs/config',
];

/** The declaration file of each of the {@link FRAMEWORK_MODULES}, as an example resolves it. */
function frameworkFiles(options: ts.CompilerOptions, from: string): string[] {
  return FRAMEWORK_MODULES.map((module) => {
    const resolved = ts.resolveModuleName(module, from, options, ts.sys).resolvedModule;
    expect(resolved, `${module} resolves`).toBeDefined();
    return resolved!.resolvedFileName;
  });
}

/** Every name the given modules export. */
function exportedNames(program: ts.Program, files: string[]): Set<string> {
  const checker = program.getTypeChecker();
  const names = new Set<string>();
  for (const file of files) {
    const symbol = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
    for (const exported of checker.getExportsOfModule(symbol)) names.add(exported.name);
  }
  return names;
}

function isLeftToTheReader(diagnostic: ts.Diagnostic, framework: Set<string>): boolean {
  const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  if (LEFT_TO_THE_READER.has(diagnostic.code)) {
    const name = /Cannot find name '(\w+)'/.exec(text)?.[1];
    return name === undefined || !framework.has(name);
  }
  // The reader's own files: `import { ReportsService } from './reports.service'`.
  return diagnostic.code === 2307 && /Cannot find module '\.\.?\//.test(text);
}

/** Type-checks the examples as files of one program, with the repository's compiler options. */
function check(examples: Example[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(REPO_ROOT, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  )!;
  const byFile = new Map(examples.map((example) => [example.file, example]));
  const host = ts.createCompilerHost(config.options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (file) => byFile.get(file)?.code ?? readFile(file);
  host.fileExists = (file) => byFile.has(file) || fileExists(file);
  host.getSourceFile = (file, language, ...rest) => {
    const example = byFile.get(file);
    return example === undefined
      ? getSourceFile(file, language, ...rest)
      : ts.createSourceFile(file, example.code, language, true);
  };
  const framework = frameworkFiles(config.options, examples[0]!.file);
  const program = ts.createProgram([...byFile.keys(), ...framework], config.options, host);
  const frameworkExports = exportedNames(program, framework);
  const problems: string[] = [];
  for (const example of examples) {
    const source = program.getSourceFile(example.file)!;
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    for (const diagnostic of diagnostics.filter((d) => !isLeftToTheReader(d, frameworkExports))) {
      const line = source.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line;
      const [page, first] = example.where.split(':') as [string, string];
      problems.push(
        `${page}:${Number(first) + line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`,
      );
    }
  }
  return problems;
}

describe('the TypeScript examples of the README and docs/', () => {
  const examples = pages.flatMap(examplesOf);

  it('finds the examples that import from the package', () => {
    // A guard against a page format change that would leave the check below with nothing to do.
    expect(examples.length).toBeGreaterThanOrEqual(15);
  });

  // A whole-program compile in this process: a few seconds on a quiet machine, but CPU-bound, so
  // it stretches with the machine's load (it ran past the default 60 s beside a loaded suite), as
  // the package's own type-checks (test/package/typescript-defaults.spec.ts) allow for.
  it('type-check against the entry points, as written', () => {
    expect(check(examples)).toEqual([]);
  }, 300_000);
});
