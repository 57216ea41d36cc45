import type { LoggerService } from '@nestjs/common';
// `Pool` by name: a declaration with `pg.Pool` fails a CommonJS app without esModuleInterop.
import pg, { type Pool } from 'pg';
import { STATE_TTL_MS } from '../../cron-lock.constants.js';
import { CronLockConfigError, LockStoreError } from '../../cron-lock.errors.js';
import { CronLockLogger, defaultLogger } from '../../observer/logger.js';
import { INVALID_POSTGRES_INPUT, POSTGRES_PREPARED_STATEMENTS_OFF } from './postgres.messages.js';
import type {
  AcquireRequest,
  AcquireResult,
  HistoryEntry,
  JobSchedule,
  LockStore,
  PauseRequest,
  ReleaseRequest,
  RenewRequest,
  RenewResult,
  StoredLockState,
} from '../lock-store.interface.js';
import { acquireLock } from './acquire.js';
import { ConnectionLanes } from './connection-lanes.js';
import { acquirePlainLock } from './acquire-plain.js';
import { checkWritable, currentLockToken, inspectLock, listJobNames } from './inspect.js';
import { isPreparedStatementTrouble, type PostgresPool } from './postgres-connection.js';
import { describePostgresError, isRefusal, secretsOfConnectionString } from './postgres-errors.js';
import {
  booleanOption,
  isPool,
  rejectClient,
  checkStoreOptions,
  secretsOfPool,
  timeoutOption,
} from './postgres-options.js';
import { watchPool } from './pool-listeners.js';
import { lockTable, type LockTable } from './postgres-table.js';
import { releaseLock } from './release.js';
import { releasePlainLock } from './release-plain.js';
import { checkHistoryLimit, readHistory } from './history.js';
import { pauseJob, registerJob, resumeJob } from './pause.js';
import { renewLock } from './renew.js';
import { SharedPing } from './shared-ping.js';
import { SweepSchedule } from './sweep-schedule.js';
import { ensureLockTable } from './schema.js';
import { namedStatements, unnamedStatements, type Statements } from './statements.js';
import { PostgresTriggerChannel } from './trigger.js';
import { UnsentAcquisitions } from './unsent-acquisitions.js';
import { checkJobName, checkPauseRequest } from '../store-arguments.js';

/** Connections of a pool made from a connection string: `pg`'s default (see docs/stores.md). */
const OWN_POOL_SIZE = 10;

/**
 * Options of {@link PostgresLockStore}.
 *
 * @publicApi
 */
export interface PostgresLockStoreOptions {
  /** Schema of the lock table. Default `public`. Lower case a-z 0-9 _, at most 40 characters. */
  schema?: string;
  /** Name of the lock table. Default `cron_lock`. Lower case a-z 0-9 _, at most 40 characters. */
  table?: string;
  /**
   * Create the table (and the schema) on first use when missing. Default `true`; safe when
   * several instances start at once. `false` for a role without DDL rights: apply the shipped
   * `schema.sql` first.
   */
  createTable?: boolean;
  /**
   * Bound of one operation in ms, waiting for a free pooled connection included. An operation
   * that takes longer rejects with a {@link LockStoreError} (the run is then skipped, or run per
   * `onStoreError`). Default 2000.
   */
  operationTimeout?: number;
  /**
   * Send the store's statements as named prepared statements, parsed and planned once per
   * connection. Default `true`. Behind a pooler that cannot keep them (PgBouncer before 1.21 in
   * transaction mode), the store notices the first failure, says so once, and goes on with
   * unnamed statements; `false` starts that way.
   */
  preparedStatements?: boolean;
  /** Where the store reports trouble; `false` for nowhere. Default Nest's Logger; may be async. */
  logger?: LoggerService | false;
}

/**
 * A {@link LockStore} on PostgreSQL, with the same answers as `RedisLockStore` (the shipped
 * contract suite): one row per job in one table, each operation one statement (one round trip),
 * time from the database's `clock_timestamp()`, never from the instances. A plain lock
 * ({@link AcquireRequest.plain}) takes a leaner statement each way: no occurrence, holder or
 * history (acquire-plain.ts, release-plain.ts).
 *
 * No session state it depends on: no session advisory lock, no `SET`; named prepared statements
 * with a fallback to unnamed ones (see {@link PostgresLockStoreOptions.preparedStatements}), so it
 * works behind PgBouncer in transaction mode and on managed PostgreSQL.
 *
 * Given a `pg` `Pool`, it uses it and never closes it. Given a connection string, it creates a
 * pool of its own and closes it on `close()`. A held lock's renewal goes first (ConnectionLanes).
 *
 * @publicApi
 */
export class PostgresLockStore implements LockStore {
  /** The table in use, e.g. `public.cron_lock`. */
  readonly tableName: string;
  private readonly pool: PostgresPool;
  private readonly lanes: ConnectionLanes;
  private readonly ownsPool: boolean;
  private readonly table: LockTable;
  private readonly createTable: boolean;
  private readonly timeout: number;
  private readonly secrets: string[];
  private readonly log: CronLockLogger;
  private readonly unnamed: Statements;
  private statements: Statements;
  private ready: Promise<void> | null = null;
  private tableChecked = false;
  private idleErrorReported = false;
  private closed = false;
  private unwatchPool = (): void => undefined;
  /**
   * Jobs whose last acquisition here moved their row's expiry: their release, or their paused
   * occurrence's claim, also moves their history's (see releaseSql, acquireLock). At most one name
   * per lock held or paused job.
   */
  private readonly historyToRefresh = new Set<string>();
  private readonly sweeps = new SweepSchedule();
  /** Acquisitions that got no pooled connection: their release has nothing to free. */
  private readonly unsent = new UnsentAcquisitions();
  private readonly pings: SharedPing;
  readonly triggers: PostgresTriggerChannel;
  readonly kind = 'postgresql';

  constructor(pool: Pool | string, options: PostgresLockStoreOptions = {}) {
    checkStoreOptions(options);
    rejectClient(pool);
    this.table = lockTable(options.schema, options.table);
    this.tableName = this.table.display;
    this.createTable = booleanOption('createTable', options.createTable, true);
    this.timeout = timeoutOption(options.operationTimeout);
    const logger = options.logger === undefined ? defaultLogger() : options.logger;
    this.log = new CronLockLogger(logger || null);
    if (typeof pool === 'string') {
      if (!/^postgres(ql)?:\/\/./.test(pool)) {
        throw new CronLockConfigError(INVALID_POSTGRES_INPUT(pool));
      }
      this.secrets = secretsOfConnectionString(pool);
      const own = new pg.Pool({
        connectionString: pool,
        max: OWN_POOL_SIZE,
        connectionTimeoutMillis: this.timeout,
      });
      // Without a listener, an idle connection's error (a server restart) would crash the process.
      watchPool(own, (error) => this.idleConnectionFailed(error));
      this.lanes = new ConnectionLanes(own, this.timeout);
      this.ownsPool = true;
    } else if (isPool(pool)) {
      this.secrets = secretsOfPool(pool);
      this.lanes = new ConnectionLanes(pool, this.timeout);
      this.ownsPool = false;
      this.unwatchPool = watchPool(pool, (error) => this.idleConnectionFailed(error));
    } else {
      throw new CronLockConfigError(INVALID_POSTGRES_INPUT(pool));
    }
    this.pool = this.lanes.others; // all but renewals and releases
    this.pings = new SharedPing(this.pool, this.timeout);
    this.unnamed = unnamedStatements(this.table);
    this.statements = booleanOption('preparedStatements', options.preparedStatements, true)
      ? namedStatements(this.unnamed)
      : this.unnamed;
    this.triggers = new PostgresTriggerChannel(
      this.lanes.pool, // the listening connection is held apart from the lanes
      this.table,
      this.timeout,
      this.fail,
      this.log,
      () => this.tableReady(),
    );
  }

  private readonly fail = (error: unknown): never => {
    throw error instanceof LockStoreError ? error : new LockStoreError(this.describe(error));
  };

  acquire(request: AcquireRequest): Promise<AcquireResult> {
    // Twice the marker and lock ttl: the acquire refreshes it at half left (see acquireSql).
    const stateTtl = Math.max(STATE_TTL_MS, 2 * (request.markerTtl ?? 0), 2 * request.ttl);
    const plain = request.plain === true && request.scheduledAt === undefined;
    const acquisition = this.guard((sql) =>
      plain
        ? acquirePlainLock(this.pool, sql.acquirePlain, request, stateTtl, this.timeout)
        : acquireLock(this.pool, sql, request, stateTtl, this.timeout, this.historyToRefresh),
    );
    return this.unsent.watch(request.token, acquisition);
  }

  renew(request: RenewRequest): Promise<RenewResult> {
    return this.guard((sql) => renewLock(this.lanes.renew, sql.renew, request, this.timeout));
  }

  release(request: ReleaseRequest): Promise<boolean> {
    if (this.unsent.take(request.token)) return Promise.resolve(false); // nothing was taken
    const lane = this.lanes.release;
    // A plain release with `keepFor` (minHold) shortens the lock instead: the full statement.
    if (request.plain === true && !(request.keepFor && request.keepFor > 0)) {
      const { name, token } = request;
      return this.guard((sql) =>
        releasePlainLock(lane, sql.releasePlain, name, token, this.timeout),
      );
    }
    return this.guard((sql) =>
      releaseLock(lane, sql, request, this.timeout, this.historyToRefresh, this.sweeps),
    );
  }

  async inspect(name: string): Promise<StoredLockState> {
    checkJobName('PostgresLockStore', 'inspect', name);
    return this.guard((sql) => inspectLock(this.pool, sql.inspect, name, this.timeout));
  }

  /** Pauses the job fleet-wide (columns of its row, read by the acquire statement). */
  async pause(name: string, pause: PauseRequest): Promise<void> {
    checkPauseRequest('PostgresLockStore', name, pause);
    return this.guard(() =>
      pauseJob(this.pool, this.table, name, pause, STATE_TTL_MS, this.timeout),
    );
  }

  async resume(name: string): Promise<boolean> {
    checkJobName('PostgresLockStore', 'resume', name);
    return this.guard(() => resumeJob(this.pool, this.table, name, this.timeout));
  }

  async history(name: string, limit: number): Promise<HistoryEntry[]> {
    checkHistoryLimit('PostgresLockStore', name, limit);
    return this.guard(() => readHistory(this.pool, this.table, name, limit, this.timeout));
  }

  async registerJob(name: string, schedule: JobSchedule): Promise<void> {
    checkJobName('PostgresLockStore', 'registerJob', name);
    return this.guard(() =>
      registerJob(this.pool, this.table, name, schedule, STATE_TTL_MS, this.timeout),
    );
  }

  /** Every job name that has a row, sorted. */
  listJobs(): Promise<string[]> {
    return this.jobNames();
  }

  /** Every job name that has a row, sorted (for `status` listings): only names a lock can have. */
  jobNames(): Promise<string[]> {
    return this.guard(() => listJobNames(this.pool, this.table, this.timeout));
  }

  /**
   * The owner token of the job's live lock, or `null` when free: what an operator's forced
   * release (the CLI's `release`) hands to the owner-checked {@link release}.
   */
  async currentToken(name: string): Promise<string | null> {
    checkJobName('PostgresLockStore', 'currentToken', name);
    return this.guard(() => currentLockToken(this.pool, this.table, name, this.timeout));
  }

  /** Round trip in ms; overlapping calls share one (see SharedPing). */
  ping(): Promise<number> {
    return this.pings.run((ping) => this.guard(ping));
  }

  /** Rejects, naming the fix, on a hot standby or for a role whose sessions start read-only. */
  checkWritable(): Promise<void> {
    return this.guard(() => checkWritable(this.pool, this.timeout));
  }

  /** Closes the pool this store created from a connection string; never a pool passed in. */
  async close(): Promise<void> {
    await this.triggers.close(); // its listening connection, whoever owns the pool
    this.unwatchPool();
    if (!this.ownsPool || this.closed) {
      return;
    }
    this.closed = true;
    await this.pool.end();
  }

  /**
   * Runs one operation once the table is known to exist, and turns any failure into a
   * {@link LockStoreError} whose message carries no secret, `answered` for a refusal (isRefusal).
   * A pooler that lost (or had) a named statement turns the store to unnamed ones for good, and
   * the operation is sent again: refused at Parse or Bind, it never ran. One async step a call.
   */
  private async guard<T>(operation: (sql: Statements) => Promise<T>): Promise<T> {
    try {
      if (this.closed) {
        throw new LockStoreError('PostgreSQL lock store is closed');
      }
      if (!this.tableChecked) {
        await this.tableReady();
      }
      const statements = this.statements;
      let result: T;
      try {
        result = await operation(statements);
      } catch (error) {
        if (statements === this.unnamed || !isPreparedStatementTrouble(error)) {
          throw error;
        }
        if (this.statements !== this.unnamed) {
          this.statements = this.unnamed;
          this.log.warn(POSTGRES_PREPARED_STATEMENTS_OFF(this.describe(error)));
        }
        result = await operation(this.unnamed);
      }
      this.idleErrorReported = false;
      return result;
    } catch (error) {
      if (error instanceof LockStoreError) {
        throw error;
      }
      throw new LockStoreError(this.describe(error), { answered: isRefusal(error) });
    }
  }

  /**
   * Checks (and creates) the table once. A failure is not remembered: the next operation tries
   * again, so a store that started while the database was down recovers by itself.
   */
  private tableReady(): Promise<void> {
    this.ready ??= ensureLockTable(this.pool, this.table, this.createTable, this.timeout).then(
      () => {
        this.tableChecked = true;
      },
      (error: unknown) => {
        this.ready = null;
        throw error;
      },
    );
    return this.ready;
  }

  /** A restart ends every idle connection: one line per outage, re-armed by the next success. */
  private idleConnectionFailed(error: unknown): void {
    if (!this.idleErrorReported) {
      this.idleErrorReported = true;
      this.log.warn(`PostgreSQL idle connection error: ${this.describe(error)}`);
    }
  }

  private describe(error: unknown): string {
    return describePostgresError(error, this.secrets);
  }
}
