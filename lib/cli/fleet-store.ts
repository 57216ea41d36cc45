import type { LockStore } from '../stores/lock-store.interface.js';
import { CliError } from './cli.errors.js';
import type { CliConnection } from './cli-redis.js';
import { where } from './status.command.js';

/** `"job"` exists under the connection's prefix (or in its table); else a {@link CliError}. */
export async function requireJob(
  connection: CliConnection,
  prefix: string,
  job: string,
): Promise<void> {
  const known = await connection.jobNames();
  if (!known.includes(job)) {
    const list =
      known.length === 0
        ? 'there are no jobs under it'
        : `jobs there: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''}`;
    throw new CliError(
      `No job "${job}" ${where(connection, prefix)} at ${connection.address} (${list}). ` +
        `Check the job name (its lock name) and ${connection.namespace === 'prefix' ? '--prefix' : '--schema and --table'}.`,
    );
  }
}

/** A {@link CliError} for a store without the optional method a command needs. */
export function requireMethod<K extends keyof LockStore>(
  store: LockStore,
  method: K,
  command: string,
): asserts store is LockStore & Required<Pick<LockStore, K>> {
  if (typeof store[method] !== 'function') {
    throw new CliError(
      `This lock store cannot ${command} (it has no ${String(method)}()): upgrade the package ` +
        'the app uses, or use RedisLockStore or PostgresLockStore.',
    );
  }
}
