import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute file URL of the TypeScript loader (scripts/register-ts.mjs). */
export const REGISTER_TS_URL = new URL('../../scripts/register-ts.mjs', import.meta.url).href;

/** Repository root (absolute path). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Forks a TypeScript file (path relative to the repo root, or absolute) with the TS loader, an
 * IPC channel, and the parent's environment (including CRON_LOCK_TEST_REDIS_URL).
 */
export function forkTs(file: string, args: string[] = [], options: ForkOptions = {}): ChildProcess {
  return fork(resolve(REPO_ROOT, file), args, {
    cwd: REPO_ROOT,
    env: process.env,
    ...options,
    execArgv: ['--import', REGISTER_TS_URL, ...(options.execArgv ?? [])],
  });
}
