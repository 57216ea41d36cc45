/** The command line was wrong (exit code 2): the message says what to type instead. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
  constructor(
    message: string,
    /** Whether to point at `--help` (not when the message already says what to type). */
    readonly showHelp = true,
  ) {
    super(message);
  }
}

/** The command could not do its work (exit code 1). The message is safe to print as is. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Exit codes of the `nestjs-cron-lock` command. */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

/**
 * A PostgreSQL store was asked for, and `pg` (an optional peer, which `npx` does not fetch with
 * the package) is not installed beside the package.
 */
export const PG_NOT_INSTALLED =
  'The PostgreSQL store needs the pg package, which is not installed beside nestjs-cron-lock. ' +
  'Fix: npm install pg in the app, or run the command with both packages: ' +
  'npx -p nestjs-cron-lock -p pg nestjs-cron-lock <command> …';

/**
 * PostgreSQL answered, but the lock table is not there: no app has created it yet, or `--schema`
 * / `--table` name another one. The command never creates it, so the store's own fix
 * (`createTable: true`) is no option here.
 */
export const CLI_POSTGRES_TABLE_MISSING = (table: string, address: string): string =>
  `No lock table ${table} at ${address}: no app has created it yet, or --schema and --table ` +
  'name another table (the command never creates it). Fix: pass the --schema and --table of ' +
  "the app's PostgresLockStore, or start the app once (or apply its schema.sql) to create it.";
