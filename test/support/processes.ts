// What the servers the tests start (redis-server, PostgreSQL, PgBouncer) have in common: waiting
// for a child to exit, and the OS user that PostgreSQL's programs run as under root.
import { spawnSync, type ChildProcess } from 'node:child_process';

/** Resolves `true` once `child` exited, or `false` after `timeoutMs`. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/**
 * PostgreSQL and PgBouncer refuse to run as root: under root they run as the `postgres` OS user
 * (the Debian package creates it). `undefined` when the tests do not run as root.
 */
export function postgresOsUser(
  program: string,
  hint = '',
): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(
      `Running as root, and there is no postgres OS user to run ${program} as. ${hint}`,
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
