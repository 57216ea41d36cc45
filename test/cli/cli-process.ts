// Runs the `nestjs-cron-lock` command as a user would: a separate process, from the repository
// root, through the TS loader (the built file is checked separately with `npm run build`).
import { spawn, spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../support/fork-ts.js';

const CLI_ARGS = ['--import', './scripts/register-ts.mjs', 'lib/cli/main.ts'];
/** The loader transpiles on start: slow on a loaded machine, so generous. */
const CLI_TIMEOUT_MS = 90_000;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** Extra environment; REDIS_URL is removed from the inherited one unless set here. */
  env?: NodeJS.ProcessEnv;
  /**
   * Run under a pseudo-terminal (`script` from util-linux), so that stdin is a TTY. `answer` is
   * typed once `waitFor` appears in the output.
   */
  tty?: { waitFor: string; answer: string };
  /**
   * Close the read end of the command's stdout before it prints anything, as `| head -1` does
   * once it has its line: every write of the command then meets a closed pipe (EPIPE).
   */
  closeStdout?: boolean;
  /** As `closeStdout`, for stderr (`2>&1 | head -1`, or a log reader that went away). */
  closeStderr?: boolean;
  /**
   * With `tty`: the command's stdout goes to this file instead of the terminal, as in
   * `nestjs-cron-lock trigger job --json | jq` typed in a terminal (stdin a TTY, stdout not).
   */
  stdoutFile?: string;
  /** With `tty`: the command's stderr goes to this file (`2>errors.log`, `2>/dev/null`). */
  stderrFile?: string;
}

/** Whether a pseudo-terminal tool (`script` from util-linux) is available. */
export const HAS_SCRIPT =
  spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0 &&
  process.platform === 'linux';

export function runCli(args: string[], options: CliRunOptions = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.REDIS_URL;
  Object.assign(env, options.env);

  const child = options.tty
    ? spawn(
        'script',
        [
          '-qec',
          [process.execPath, ...CLI_ARGS, ...args].map(quote).join(' ') +
            (options.stdoutFile === undefined ? '' : ` > ${quote(options.stdoutFile)}`) +
            (options.stderrFile === undefined ? '' : ` 2> ${quote(options.stderrFile)}`),
          '/dev/null',
        ],
        {
          cwd: REPO_ROOT,
          env,
        },
      )
    : spawn(process.execPath, [...CLI_ARGS, ...args], { cwd: REPO_ROOT, env });

  let stdout = '';
  let stderr = '';
  let answered = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (options.tty && !answered && stdout.includes(options.tty.waitFor)) {
      answered = true;
      child.stdin.write(options.tty.answer);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  if (options.closeStdout) {
    // The loader takes far longer to start than this close, so no write comes before it.
    child.stdout.destroy();
  }
  if (options.closeStderr) {
    child.stderr.destroy();
  }
  if (!options.tty) {
    // A pipe that ends at once: not a terminal, nothing to read.
    child.stdin.end();
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function quote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
