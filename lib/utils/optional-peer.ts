import { CronLockConfigError } from '../cron-lock.errors.js';

/**
 * An entry point that needs an optional peer (`nestjs-cron-lock/postgres` needs `pg`) was loaded
 * in an app that did not install it.
 */
export const OPTIONAL_PEER_MISSING = (entry: string, peer: string): string =>
  `${entry} needs the optional peer dependency "${peer}", which is not installed. ` +
  `Fix: npm install ${peer}`;

/**
 * What the generated entry point of `entry` (see scripts/build.mjs) throws when loading its
 * optional `peer` failed with `error`: a CronLockConfigError naming the entry and the fix when the
 * peer itself is not installed, or `error` as it is. Node's own error is left out: it names the
 * peer by where it looked on this machine, and says nothing of the fix.
 *
 * @internal
 */
export function optionalPeerError(error: unknown, entry: string, peer: string): unknown {
  return isMissingPackage(error, peer)
    ? new CronLockConfigError(OPTIONAL_PEER_MISSING(entry, peer))
    : error;
}

/**
 * Whether `error` is Node's failure to find the package `name` itself, from `import` or `require`:
 * not a file inside it, nor a package that `name` needs, which a reinstall of `name` may not fix.
 * Also how the CLI tells a missing `pg` apart.
 */
export function isMissingPackage(error: unknown, name: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    (message.startsWith(`Cannot find package '${name}' `) ||
      message.startsWith(`Cannot find module '${name}'`))
  );
}
