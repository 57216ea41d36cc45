// The options tables of the user's guide, read against the interfaces they describe: each table
// lists every option the interface has, and no other. A reader who looks for a setting in the
// table (`preparedStatements` behind a pooler, `scriptTransport` after an ioredis upgrade) finds
// it there, with its default, rather than only in the declarations.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fork-ts.js';

interface OptionsTable {
  /** The page and the heading the table follows. */
  page: string;
  heading: string;
  /** The file under lib/ that declares the interface, and its name. */
  file: string;
  type: string;
}

const TABLES: OptionsTable[] = [
  {
    page: 'docs/stores.md',
    heading: '### Options',
    file: 'lib/stores/postgres/postgres-lock.store.ts',
    type: 'PostgresLockStoreOptions',
  },
  {
    page: 'docs/stores.md',
    heading: '### `RedisLockStore` options',
    file: 'lib/stores/redis/redis-lock.store.ts',
    type: 'RedisLockStoreOptions',
  },
  {
    page: 'docs/usage.md',
    heading: '## Module options',
    file: 'lib/options/module-options.interface.ts',
    type: 'CronLockModuleOptions',
  },
  {
    page: 'docs/usage.md',
    heading: '### `LockedCronOptions`',
    file: 'lib/options/job-options.interface.ts',
    type: 'LockedCronOptions',
  },
  {
    page: 'docs/dashboard.md',
    heading: '## Options',
    file: 'lib/dashboard/dashboard.options.ts',
    type: 'CronLockDashboardOptions',
  },
];

/** The options in the first column of the first table after `heading` (a cell may list several). */
function documentedOptions(page: string, heading: string): string[] {
  const lines = readFileSync(join(REPO_ROOT, page), 'utf8').split('\n');
  const at = lines.indexOf(heading);
  expect(at, `${page} has the heading ${heading}`).toBeGreaterThan(-1);
  let row = at + 1;
  while (row < lines.length && !lines[row]!.startsWith('|')) row++;
  const options: string[] = [];
  // The header row and its separator first, then one row per option.
  for (row += 2; row < lines.length && lines[row]!.startsWith('|'); row++) {
    const firstCell = lines[row]!.split('|')[1]!;
    options.push(...[...firstCell.matchAll(/`(\w+)`/g)].map((match) => match[1]!));
  }
  return options;
}

/** The properties of an exported interface, inherited ones included. */
function declaredOptions(program: ts.Program, file: string, type: string): string[] {
  const source = program.getSourceFile(join(REPO_ROOT, file))!;
  const checker = program.getTypeChecker();
  const declaration = source.statements.find(
    (statement): statement is ts.InterfaceDeclaration =>
      ts.isInterfaceDeclaration(statement) && statement.name.text === type,
  );
  expect(declaration, `${file} declares ${type}`).toBeDefined();
  return checker
    .getTypeAtLocation(declaration!)
    .getProperties()
    .map((property) => property.name);
}

describe('the options tables of docs/', () => {
  const program = ts.createProgram(
    TABLES.map((table) => join(REPO_ROOT, table.file)),
    { strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext },
  );

  it.each(TABLES)('$page "$heading" lists every option of $type, and no other', (table) => {
    const documented = documentedOptions(table.page, table.heading);
    expect(documented.length, 'rows found').toBeGreaterThan(0);
    expect([...documented].sort()).toEqual(declaredOptions(program, table.file, table.type).sort());
  });
});
