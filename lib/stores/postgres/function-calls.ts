import { functionNames } from './functions.js';
import type { LockTable } from './postgres-table.js';

// The statements that call the schema's functions (functions.ts), as the store prepares them.

/**
 * $1 name · $2 token · $3 ttl ms · $4 scheduledAt ms or null · $5 state ttl ms · $6 instance id
 * $7 force · $8 history size; answers one text, the fields of the row acquireSql returns without
 * its overlap columns (see ACQUIRE_ANSWER in functions.ts).
 *
 * Every argument is cast to the function's own type: values sent untyped would let a function of
 * the same name with other argument types (one a role with CREATE on the schema could add) be the
 * better match and run in its place, with the app role's rights. An exact match wins over any.
 */
export function acquireCallSql(table: LockTable): string {
  return `SELECT ${functionNames(table).acquire}($1::text, $2::text, $3::float8, $4::bigint,
  $5::float8, $6::text, $7::boolean, $8::integer) AS answer`;
}

/**
 * releaseSql's nine values with an outcome, then · $10 refresh the history's expiry · $11 sweep;
 * answers one text: released, queued and sweep_more (see RELEASE_ANSWER in functions.ts). Its
 * arguments cast as in {@link acquireCallSql}. With `oneEntry`, `$9` is one history entry, a text
 * (a release's usual list: its run's entry alone), made the list on the server: `pg` writes a list
 * as an array literal, escaping every quote of each entry's JSON, which the server then reads back.
 */
export function releaseCallSql(table: LockTable, oneEntry = false): string {
  return `SELECT ${functionNames(table).release}($1::text, $2::text, $3::float8, $4::text, $5::bigint,
  $6::bigint, $7::float8, $8::integer, ${oneEntry ? 'ARRAY[$9::text]' : '$9::text[]'}, $10::boolean,
  $11::boolean) AS answer`;
}
