import { CliUsageError } from './cli.errors.js';
import { ask, promptStream, type ReleaseIo } from './release.command.js';

/**
 * The confirmation rule of every command that changes state, as `release` asks it: `--yes`
 * goes ahead; a terminal is asked `[y/N]`; anything else (a script, CI, `kubectl exec` without
 * `-t`) is refused with exit code 2, since nobody is there to answer.
 *
 * @returns whether to go ahead (`false`: the operator answered no, and was told so).
 */
export async function confirm(
  io: ReleaseIo,
  yes: boolean,
  question: string,
  refusal: string,
): Promise<boolean> {
  if (yes) {
    return true;
  }
  if (!io.stdin.isTTY) {
    throw new CliUsageError(
      `Refusing to ${refusal} without confirmation: stdin is not a terminal. Re-run with --yes.`,
      false,
    );
  }
  const answer = await ask(io, `${question} [y/N] `);
  if (!/^y(es)?$/i.test(answer.trim())) {
    // Beside the question, off a piped stdout: `trigger --json` prints nothing there when declined.
    promptStream(io).write('Nothing done.\n');
    return false;
  }
  return true;
}
