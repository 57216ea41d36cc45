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
