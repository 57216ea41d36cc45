import type { Redis } from 'ioredis';
import { isReplyError } from './reply-error.js';

/**
 * ioredis' reply to the `SELECT` it sends on connect for a URL's `/db` (or the `db` option),
 * refused: a database the server does not have (`ERR DB index is out of range`), an ACL user
 * without `+select`, a Cluster node (`SELECT is not allowed in cluster mode`).
 */
export function isSelectRefusal(error: unknown): error is Error {
  if (!isReplyError(error)) {
    return false;
  }
  const command = (error as { command?: { name?: unknown } }).command;
  return command?.name === 'select';
}

/** What a refused `SELECT` means and the fix, naming the database; the reply goes after it. */
export function databaseHint(error: unknown): string | undefined {
  if (!isSelectRefusal(error)) {
    return undefined;
  }
  const args = (error as { command?: { args?: unknown[] } }).command?.args;
  const db = Array.isArray(args) && args.length > 0 ? String(args[0]) : '?';
  return (
    `Redis refused database ${db} of the URL (or the db option), so nothing is read or ` +
    'written. Fix: name a database the server has (redis://host:6379/0; `databases` is 16 by ' +
    'default, a Cluster has only 0), or grant the ACL user +select'
  );
}

/**
 * Drops the connection of a client the module or the command line tool created as soon as its
 * `SELECT` on connect is refused. ioredis reports the refusal as an `error` event only, then
 * marks the connection ready on database 0, where every command would read, write and release
 * another database's locks (staging's `/1` typed as `/11` would share production's). Dropped
 * before its ready check answers, the connection never becomes ready: commands fail (no offline
 * queue) and ioredis connects again with its retry strategy, so a server that gains the database
 * (restarted with more, or the user granted `+select`) is used at once.
 */
export function dropOnRefusedSelect(client: Redis): void {
  client.on('connect', () => refusals.delete(client));
  client.on('error', (error: unknown) => {
    if (isSelectRefusal(error)) {
      refusals.set(client, error);
      client.disconnect(true);
    }
  });
}

/** The refused `SELECT` of each client's connection being opened (until the next one starts). */
const refusals = new WeakMap<Redis, Error>();

/**
 * The refused `SELECT` of the client's current connection attempt, if any: the reason to report
 * for it, rather than the failed ready check of the dropped connection that follows it.
 */
export function refusedSelectOf(client: Redis): Error | undefined {
  return refusals.get(client);
}
