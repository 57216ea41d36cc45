import { createHash } from 'node:crypto';
import { acquirePlainSql } from './acquire-plain.js';
import { acquireShapeKey, acquireSql, type AcquireShape } from './acquire.js';
import { acquireCallSql, releaseCallSql } from './function-calls.js';
import { historyExpirySql } from './history.js';
import { inspectSql } from './inspect.js';
import type { Statement } from './postgres-connection.js';
import type { LockTable } from './postgres-table.js';
import { releasePlainSql } from './release-plain.js';
import { releaseShapeKey, releaseSql, type ReleaseShape } from './release.js';
import { renewSql } from './renew.js';

/**
 * The store's statements on the hot path, all named or all unnamed. The cron path's acquire and
 * release call the schema's functions (functions.ts). The acquire under an overlap policy and the
 * release without an outcome come in shapes (see {@link AcquireShape}, {@link ReleaseShape}): each
 * leaves out the steps its request cannot need, since the server sets up every step of a
 * statement on each call, whether it then writes anything or not. A shape is built on its first
 * use.
 */
export interface Statements {
  /** An acquisition under an overlap policy (see acquireSql). */
  acquire(shape: AcquireShape): Statement;
  /** Any other acquisition with an occurrence or a history: the acquire function (functions.ts). */
  acquireCall: Statement;
  /** The lean acquire of a plain lock (see acquire-plain.ts). */
  acquirePlain: Statement;
  renew: Statement;
  /** A release without an outcome (see releaseSql). */
  release(shape: ReleaseShape): Statement;
  /** A release with an outcome: the release function (functions.ts). */
  releaseCall: Statement;
  /** The same with one history entry, sent as a text (see releaseCallSql). */
  releaseCallOne: Statement;
  /** The lean release of a plain lock (see release-plain.ts). */
  releasePlain: Statement;
  inspect: Statement;
  /** Moves the history's expiry to the row's after a paused claim moved the row's (see history.ts). */
  historyExpiry: Statement;
}

/** The statements on `table`, unnamed: parsed and planned again on every call. */
export function unnamedStatements(table: LockTable): Statements {
  return {
    acquire: shapes(acquireShapeKey, (shape) => ({ text: acquireSql(table, shape) })),
    acquireCall: { text: acquireCallSql(table) },
    acquirePlain: { text: acquirePlainSql(table) },
    renew: { text: renewSql(table) },
    release: shapes(releaseShapeKey, (shape) => ({ text: releaseSql(table, shape) })),
    releaseCall: { text: releaseCallSql(table) },
    releaseCallOne: { text: releaseCallSql(table, true) },
    releasePlain: { text: releasePlainSql(table) },
    inspect: { text: inspectSql(table) },
    historyExpiry: { text: historyExpirySql(table) },
  };
}

/** The same statements, each prepared under a name (see {@link named}). */
export function namedStatements(unnamed: Statements): Statements {
  return {
    acquire: shapes(acquireShapeKey, (shape) => named(unnamed.acquire(shape))),
    acquireCall: named(unnamed.acquireCall),
    acquirePlain: named(unnamed.acquirePlain),
    renew: named(unnamed.renew),
    release: shapes(releaseShapeKey, (shape) => named(unnamed.release(shape))),
    releaseCall: named(unnamed.releaseCall),
    releaseCallOne: named(unnamed.releaseCallOne),
    releasePlain: named(unnamed.releasePlain),
    inspect: named(unnamed.inspect),
    historyExpiry: named(unnamed.historyExpiry),
  };
}

/** `build`, remembered per shape: `keyOf` numbers a shape's flags, a small integer. */
function shapes<Shape>(
  keyOf: (shape: Shape) => number,
  build: (shape: Shape) => Statement,
): (shape: Shape) => Statement {
  const built: Statement[] = [];
  return (shape) => (built[keyOf(shape)] ??= build(shape));
}

/**
 * The statement under a name derived from its text: two stores on one pool with different tables
 * never share a name (`pg` refuses one name for two texts on a connection).
 */
function named(statement: Statement): Statement {
  const digest = createHash('sha256').update(statement.text).digest('hex').slice(0, 24);
  return { text: statement.text, name: `nestjs_cron_lock_${digest}` };
}
