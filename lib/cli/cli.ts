import { readFileSync } from 'node:fs';
import { describeStoreError } from '../utils/redact.js';
import { parseCliArgs, USAGE } from './cli-args.js';
import {
  CliError,
  CliUsageError,
  EXIT_ERROR,
  EXIT_OK,
  EXIT_USAGE,
  PG_NOT_INSTALLED,
} from './cli.errors.js';
import type { StoreTarget } from './cli-args.js';
import { openConnection, type CliConnection } from './cli-redis.js';
import { historyCommand } from './history.command.js';
import { pauseCommand, resumeCommand } from './pause.command.js';
import { releaseCommand } from './release.command.js';
import { triggerCommand } from './trigger.command.js';
import { statusCommand } from './status.command.js';
import { isMissingPackage } from '../utils/optional-peer.js';

/** The process's streams and environment, replaceable in tests. */
export interface CliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const PROGRAM = 'nestjs-cron-lock';

/**
 * Runs `nestjs-cron-lock <command>` and resolves with its exit code: 0 done, 1 error (or a
 * triggered run that did not start, or failed with `--wait`), 2 usage (including a command that
 * needs `--yes`). Never rejects; every message it prints is redacted.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const print = (text: string): void => void io.stdout.write(`${text}\n`);
  const fail = (text: string): void => void io.stderr.write(`${PROGRAM}: ${text}\n`);

  let connection: CliConnection | undefined;
  try {
    const command = parseCliArgs(argv, io.env);
    switch (command.kind) {
      case 'help':
        print(USAGE);
        return EXIT_OK;
      case 'version':
        print(packageVersion());
        return EXIT_OK;
      case 'status':
        command.warnings.forEach(fail);
        connection = await connect(command.store, command.prefix);
        await statusCommand(connection, command, print);
        return EXIT_OK;
      case 'release': {
        command.warnings.forEach(fail);
        connection = await connect(command.store, command.prefix);
        const outcome = await releaseCommand(connection, command, { ...io, print });
        // Declined at the prompt: nothing was done, which a script must be able to tell.
        return outcome === 'declined' ? EXIT_ERROR : EXIT_OK;
      }
      case 'pause':
      case 'resume': {
        command.warnings.forEach(fail);
        connection = await connect(command.store, command.prefix);
        const ioWithPrint = { ...io, print };
        const outcome =
          command.kind === 'pause'
            ? await pauseCommand(connection, command, ioWithPrint)
            : await resumeCommand(connection, command, ioWithPrint);
        return outcome === 'declined' ? EXIT_ERROR : EXIT_OK;
      }
      case 'trigger': {
        command.warnings.forEach(fail);
        connection = await connect(command.store, command.prefix);
        const outcome = await triggerCommand(connection, command, { ...io, print });
        // Not run (no live instance, paused, held) or, with --wait, failed: a script must tell.
        return outcome === 'ran' ? EXIT_OK : EXIT_ERROR;
      }
      case 'history':
        command.warnings.forEach(fail);
        connection = await connect(command.store, command.prefix);
        await historyCommand(connection, command, print);
        return EXIT_OK;
      default:
        return command satisfies never;
    }
  } catch (error) {
    if (error instanceof CliUsageError) {
      fail(error.message);
      if (error.showHelp) {
        io.stderr.write(`Run ${PROGRAM} --help for usage.\n`);
      }
      return EXIT_USAGE;
    }
    if (error instanceof CliError) {
      fail(error.message);
      return EXIT_ERROR;
    }
    // A store or Redis error: its text may echo what the server was sent, so it is scrubbed.
    fail(connection ? connection.describe(error) : describeStoreError(error));
    return EXIT_ERROR;
  } finally {
    await connection?.close();
  }
}

/**
 * The command-side store: Redis by key prefix, or PostgreSQL by schema and table. The PostgreSQL
 * side is loaded only when asked for: `pg` is an optional peer, absent from Redis-only apps.
 */
async function connect(store: StoreTarget, prefix: string): Promise<CliConnection> {
  if (store.kind === 'postgres') {
    const { openPostgresConnection } = await import('./cli-postgres.js').catch((error: unknown) => {
      // Node's own error names the missing package by where it looked on this machine, and
      // says nothing of the fix; `npx` from its cache never has `pg` beside the package.
      throw isMissingPackage(error, 'pg') ? new CliError(PG_NOT_INSTALLED) : error;
    });
    return openPostgresConnection(store.url, store.schema, store.table);
  }
  return openConnection(store.url, prefix);
}

function packageVersion(): string {
  // lib/cli/ in the repository, dist/cli/ in the package: the manifest is two levels up.
  const manifest = JSON.parse(
    readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return manifest.version;
}
