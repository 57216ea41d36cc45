import { createHash } from 'node:crypto';
import { acquirePlainSql } from './acquire-plain.js';
import { acquireSql } from './acquire.js';
import { historyExpirySql } from './history.js';
import { inspectSql } from './inspect.js';
import type { Statement } from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';
import { releasePlainSql } from './release-plain.js';
import { releaseSql } from './release.js';
import { renewSql } from './renew.js';

/** The store's statements on the hot path, all named or all unnamed. */
export interface Statements {
  acquire: Statement;
  /** The lean acquire of a plain lock (see acquire-plain.ts). */
  acquirePlain: Statement;
  renew: Statement;
  release: Statement;
  /** The release that also moves the history's expiry to the row's (see releaseSql). */
  releaseRefreshing: Statement;
  /** The lean release of a plain lock (see release-plain.ts). */
  releasePlain: Statement;
  inspect: Statement;
  /** Moves the history's expiry to the row's after a paused claim moved the row's (see history.ts). */
  historyExpiry: Statement;
}

/** The statements on `table`, unnamed: parsed and planned again on every call. */
export function unnamedStatements(table: LockTable): Statements {
  return {
    acquire: { text: acquireSql(table) },
    acquirePlain: { text: acquirePlainSql(table) },
    renew: { text: renewSql(table) },
    release: { text: releaseSql(table) },
    releaseRefreshing: { text: releaseSql(table, true) },
    releasePlain: { text: releasePlainSql(table) },
    inspect: { text: inspectSql(table) },
    historyExpiry: { text: historyExpirySql(table) },
  };
}

/** The same statements, each prepared under a name (see {@link named}). */
export function namedStatements(unnamed: Statements): Statements {
  return {
    acquire: named(unnamed.acquire),
    acquirePlain: named(unnamed.acquirePlain),
    renew: named(unnamed.renew),
    release: named(unnamed.release),
    releaseRefreshing: named(unnamed.releaseRefreshing),
    releasePlain: named(unnamed.releasePlain),
    inspect: named(unnamed.inspect),
    historyExpiry: named(unnamed.historyExpiry),
  };
}

/**
 * The statement under a name derived from its text: two stores on one pool with different tables
 * never share a name (`pg` refuses one name for two texts on a connection).
 */
function named(statement: Statement): Statement {
  const digest = createHash('sha256').update(statement.text).digest('hex').slice(0, 24);
  return { text: statement.text, name: `nestjs_cron_lock_${digest}` };
}
